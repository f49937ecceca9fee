"""Benchmarks of the course's code against public libraries; run with `python -m benchmarks NAME`."""
