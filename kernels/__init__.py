"""Triton kernels for the PRANC basis (installed as ``pranc_codec.kernels``).

Empty for now: the fused forward/gradient kernels that regenerate basis chunks
on the fly arrive with the GPU backend. The torch path in
``pranc_codec.basis`` is the reference they must match.
"""
