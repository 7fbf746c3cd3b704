"""The typed errors a user of the codec can meet."""


class PrcError(Exception):
    """Base class of every error pranc-codec reports to its user."""


class PrcFormatError(PrcError):
    """A .prc file is malformed, corrupted, truncated or of an unknown version."""


class ImageError(PrcError):
    """An input image cannot be read, or an output cannot be written."""


class RateNote(UserWarning):
    """A rate or quality target was not met exactly; the nearest file was written."""
