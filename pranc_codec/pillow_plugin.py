"""Pillow support for .prc: ``Image.open("x.prc")`` and ``img.save("x.prc", bpp=...)``.

Registered when ``pranc_codec`` is imported. Opening reads and checks the
whole file of either version (header, caps and CRCs) and decodes when the
pixels are first needed; saving takes the encoder's settings as keyword
arguments (``preset``, ``bpp``, ``lam``, ``iterations``, ``seed``, ...;
``arch="siren"`` with ``psnr``, ``k``, ``steps``, ``width``, ... for v1).
A v2 file's colour profile and EXIF block are in ``info`` as Pillow's own
formats put them (``icc_profile``, ``exif``); saving keeps the image's
unless ``strip=True``.
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


class PrcImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "PRANC compressed image"

    def _open(self) -> None:
        assert self.fp is not None
        if not _accept(self.fp.read(len(MAGIC))):
            raise SyntaxError("not a .prc file")
        self.fp.seek(0)
        # A damaged .prc raises PrcFormatError here, which Pillow passes on,
        # rather than the vaguer "cannot identify image file".
        data = self.fp.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PrcFormatError(f"larger than any .prc file can be ({MAX_FILE_BYTES} bytes)")
        image = codec.describe(data)
        self.info.update({k: v for k, v in (("icc_profile", image.icc), ("exif", image.exif)) if v})
        self._size = (image.width, image.height)
        self._mode = CODED_MODES[image.channels]
        self.tile = [ImageFile._Tile(FORMAT, (0, 0, *self._size), 0)]


class PrcDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        assert self.fd is not None
        self.fd.seek(0)
        self.set_as_raw(codec.decode(self.fd.read()).tobytes())
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
