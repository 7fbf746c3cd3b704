"""pranc-codec: PRANC image compression.

An image is fitted by latent grids decoded by small networks whose weights
are theta0 + B @ alpha, with B a random basis regenerated from a seed
(format v3, which also reads v2; format v1 fits a SIREN from coordinates to colour); a .prc file
holds the seed, the architecture and the quantized, range-coded numbers.
"""
__version__ = "0.1.0"

import sys  # noqa: E402

from . import wait_policy  # noqa: E402

if "torch" not in sys.modules:  # OpenMP reads its wait policy when torch loads it
    wait_policy.choose()

from .codec import decode, encode, encode_many  # noqa: E402
from .errors import ImageError, PrcError, PrcFormatError, PrcTruncatedError  # noqa: E402
from .pillow_plugin import register as _register_pillow_plugin  # noqa: E402

_register_pillow_plugin()  # Image.open / Image.save of .prc files

__all__ = ["encode", "encode_many", "decode", "PrcError", "PrcFormatError", "PrcTruncatedError",
           "ImageError", "__version__"]
