"""The typed errors a user of the codec can meet.

``PrcError`` is an ``OSError``, as Pillow's own errors for broken or
truncated image data are, so ``Image.open`` callers and ``ImageFile.Parser``
treat a damaged ``.prc`` as they treat a damaged PNG.
"""


class PrcError(OSError):
    """Base class of every error pranc-codec reports to its user."""


class PrcFormatError(PrcError):
    """A .prc file is malformed, corrupted, truncated or of an unknown version."""


class PrcTruncatedError(PrcFormatError):
    """A .prc file ends before its header or a section says it does."""


class ImageError(PrcError):
    """An input image cannot be read, or an output cannot be written."""


class RateNote(UserWarning):
    """A rate or quality target was not met exactly; the nearest file was written."""
