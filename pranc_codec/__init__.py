"""pranc-codec: PRANC image compression.

An image is fitted by a small SIREN whose weights are theta0 + B @ alpha, with
B a random basis regenerated from a seed; a .prc file holds the seed, the
architecture and the quantized, range-coded alpha.
"""
__version__ = "0.1.0"

from .codec import decode, encode  # noqa: E402
from .errors import ImageError, PrcError, PrcFormatError  # noqa: E402
from .pillow_plugin import register as _register_pillow_plugin  # noqa: E402

_register_pillow_plugin()  # Image.open / Image.save of .prc files

__all__ = ["encode", "decode", "PrcError", "PrcFormatError", "ImageError", "__version__"]
