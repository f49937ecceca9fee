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

import os
import sys

# OpenMP threads that spin while they wait make every small tensor operation many times slower as soon as
# the machine has other work (a browser, a second grader): measured 300 matmuls of 256x256 on the shared
# 2-core machine, load ~10: 27 s with spinning waits, 0.7-0.9 s with passive waits or one thread. The
# OpenMP runtime reads OMP_WAIT_POLICY once, when torch loads it, so it only helps when this package is
# imported first; when torch came first, fewer threads than cores keeps the spinning off the other work.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
elif "OMP_WAIT_POLICY" not in os.environ and "OMP_NUM_THREADS" not in os.environ:
    sys.modules["torch"].set_num_threads(max(1, (os.cpu_count() or 2) // 2))
