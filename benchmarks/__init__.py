"""Benchmarks of portable_dnn's training against its baselines: ``python -m benchmarks``.

Contenders, each timed in ms per training iteration: portable_dnn's ``L_layer_model``,
the course's own NumPy (CuPy on a GPU) loop, PyTorch eager autograd and the GEMM floor
(only the step's matrix products). See benchmarks/README.md.
"""
