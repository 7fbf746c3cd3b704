"""Formats v2 and v3 (the default; v3 codes the same representation in
fewer bytes): a pyramid of integer latent grids, a synthesis
network and an autoregressive entropy model, the networks PRANC-coded.

Decoding (numpy and numba, never torch): ``container`` -> ``decoder``, which
rebuilds the weights (``basis.netweights``), decodes each grid with the
fixed-point ``entropy_model`` and its ``rans`` coder, upsamples the
``grids`` and renders the ``synthesis``; ``architecture`` names the two
networks a header describes. Encoding (torch): ``settings`` and presets ->
``fit`` (the float ``networks``, trained in the phases of ``schedule``,
replayed on a GPU by ``graphs``) -> ``encoder`` (steps, quantization-aware
tuning, pack) -> ``rate`` (``--bpp``, ``--psnr``).
"""
