"""Format v1, the reference: one SIREN from pixel coordinates to colour, its
weights PRANC-coded (normal basis), still written with ``--arch siren``.

Decoding (numpy): ``bitstream`` (the container) -> ``decoder``, which
range-decodes the coefficients, rebuilds theta (``basis.groups``) and
renders the ``inr``. Encoding (torch): ``settings`` -> ``fit`` ->
``encoder`` (quantize, fine-tune, pack) -> ``rate`` (``--bpp``, ``--psnr``).
"""
