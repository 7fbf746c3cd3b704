"""Pillow support for .prc: ``Image.open("x.prc")`` and ``img.save("x.prc", bpp=...)``.

Registered when ``pranc_codec`` is imported, and built as Pillow's own
plugins are: opening reads the header only (mode and size, the decoder's
caps checked) and, in v2 and v3, the colour profile and EXIF sections, found by
seeking past the others; ``load()`` reads the whole file, checks its CRCs
and decodes it. Broken data raises a ``PrcFormatError``, an ``OSError``
as Pillow's own errors are. With ``ImageFile.LOAD_TRUNCATED_IMAGES`` a v2 or v3
file cut short decodes from the latent grids that are whole (see
``codec.decode_partial``). Saving takes the encoder's settings as keyword
arguments (``preset``, ``bpp``, ``lam``, ``iterations``, ``seed``, ...;
``arch="siren"`` with ``psnr``, ``k``, ``steps``, ``width``, ... for v1); a
v3 file keeps the image's colour profile and EXIF block unless
``strip=True``.
"""
from __future__ import annotations

import warnings
from typing import IO

from PIL import Image, ImageFile

from . import codec
from .errors import PrcFormatError
from .fileformat import MAGIC, MAX_FILE_BYTES
from .images import CODED_MODES, to_codable

FORMAT = "PRC"


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(MAGIC)


def _read_whole(fp: IO[bytes]) -> bytes:
    fp.seek(0)
    data = fp.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PrcFormatError(f"larger than any .prc file can be ({MAX_FILE_BYTES} bytes)")
    return data


class PrcImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "PRANC compressed image"

    def _open(self) -> None:
        assert self.fp is not None
        if not _accept(self.fp.read(len(MAGIC))):
            raise SyntaxError("not a .prc file")
        self.fp.seek(0)
        image = codec.describe(self.fp)
        self.info.update({k: v for k, v in (("icc_profile", image.icc), ("exif", image.exif)) if v})
        self._size = (image.width, image.height)
        self._mode = CODED_MODES[image.channels]
        self.tile = [ImageFile._Tile(FORMAT, (0, 0, *self._size), 0)]

    def load_read(self, read_bytes: int) -> bytes:
        """A .prc decodes only whole: its finest latent grids come last. Having its
        own read function tells ImageFile.Parser so (it then gathers every chunk
        and opens the whole file at close, metadata included, instead of feeding
        a decoder piece by piece); ImageFile.load never calls it, as the decoder
        pulls the file itself."""
        assert self.fp is not None
        return self.fp.read(read_bytes)

    def verify(self) -> None:
        """Check the whole file (layout, CRCs, fields, caps) without decoding it."""
        if self.fp is None:
            raise RuntimeError("verify must be called directly after open")
        codec.check(_read_whole(self.fp))
        super().verify()


class PrcDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        assert self.fd is not None
        data = _read_whole(self.fd)
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            pixels = codec.decode_partial(data)
            if pixels is None:  # too little left: the image stays blank, as Pillow's do
                return -1, 0
        else:
            pixels = codec.decode(data)  # a file cut short: PrcTruncatedError, an OSError
        self.set_as_raw(pixels.tobytes())
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    array, note = to_codable(im)
    if note:
        warnings.warn(f"pranc-codec: {note}", stacklevel=3)
    settings = dict(im.encoderinfo)
    preset = settings.pop("preset", "default")
    if not settings.pop("strip", False) and settings.get("arch", "latent") == "latent":
        exif = im.info.get("exif") or b""  # as read; Pillow's own savers take it the same way
        settings.setdefault("icc", im.info.get("icc_profile") or b"")
        settings.setdefault("exif", exif.tobytes() if isinstance(exif, Image.Exif) else exif)
    fp.write(codec.encode(array, preset=preset, **settings))


def register() -> None:
    Image.register_open(FORMAT, PrcImageFile, _accept)
    Image.register_decoder(FORMAT, PrcDecoder)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".prc")
    Image.register_mime(FORMAT, "image/x-prc")
