"""Triton kernels for the PRANC basis, installed as ``pranc_codec.kernels``.

``basis_kernels`` holds the kernels (forward ``base + scale * B @ A`` and
gradient ``scale * B^T @ G``, batched over coefficient vectors), ``launch``
their launchers. ``pranc_codec.basis.BasisProduct`` uses them for CUDA
tensors (or when ``PRANC_BACKEND=triton``); ``pranc_codec.basis`` also holds
the torch path they are tested against.
"""
