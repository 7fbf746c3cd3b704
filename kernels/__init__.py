"""Kernels for the PRANC basis, installed as ``pranc_codec.kernels``.

``basis_kernels`` holds the Triton kernels (forward ``base + scale * B @ A``
and gradient ``scale * B^T @ G``, batched over coefficient vectors),
``launch`` their launchers; ``pranc_codec.basis.product.BasisProduct`` uses
them for CUDA tensors (or when ``PRANC_BACKEND=triton``). ``philox_cpu`` is
``tl.randn``/``tl.rand`` on the CPU from one source, run by numpy (the
decoder) or compiled by numba (a fit's basis). ``pranc_codec.basis.philox``
and ``pranc_codec.basis.product`` hold the pure-torch reference they are
all tested against.
"""
