"""Benchmarks of portable_dnn's training and inference against their baselines: ``python -m benchmarks
--help``.

``workloads.py`` declares every workload once; ``contenders/`` holds the contenders
(portable_dnn through its public API, the course's NumPy loop, the GEMM floor, one
PyTorch eager loop, scikit-learn, a hand-written ``jax.jit`` step, Dask; for inference,
``forward_proba``, the exported ONNX model and a hand-written graph in onnxruntime); ``harness.py``
times each in a fresh process; ``cli.py`` runs them interleaved, beside another
commit with ``--ref``, and ``report.py`` prints one Markdown table per workload.
"""
