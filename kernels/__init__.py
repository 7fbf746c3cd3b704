"""Kernels for the PRANC basis, installed as ``pranc_codec.kernels``.

``basis_kernels`` holds the Triton kernels (forward ``base + scale * B @ A``
and gradient ``scale * B^T @ G``, batched over coefficient vectors), ``launch``
their launchers; ``pranc_codec.basis.BasisProduct`` uses them for CUDA tensors
(or when ``PRANC_BACKEND=triton``). ``philox_cpu`` is the numba CPU kernel for
``tl.randn`` that a fit uses to generate the basis. ``pranc_codec.philox``
and ``pranc_codec.basis`` hold the pure-torch reference they are tested against.
"""
