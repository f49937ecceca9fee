"""Helper package of the defensive-distillation course.

Reads like a table of contents; nothing in it is an exercise's solution.

- device:    pick_device (CUDA, then MPS, then CPU), seed_everything
- profiles:  smoke / quick / full scales (DDCOURSE_PROFILE)
- data:      MNIST from the shipped copy, checksummed
- models:    the Papernot / Carlini-Wagner MNIST CNN and a small fast CNN
- training:  the one training loop (temperature, hard or soft labels), evaluation
- zoo:       trained models cached on disk, so notebooks share them
- plots, widgets: matplotlib figures and the temperature slider
- checking:  the public checks a student runs under each exercise
"""
