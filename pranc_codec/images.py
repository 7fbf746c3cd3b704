"""Reading images with Pillow into the modes the codec codes (with their colour
profile and EXIF block), writing decoded images in lossless formats, and
atomic writes."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .fileformat import MAX_PIXELS, MAX_SIDE

CODED_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
# modes whose ICC profile still describes the coded pixels (a CMYK or Lab
# profile would not: those are converted without colour management)
_PROFILE_KEPT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX"} | _SIXTEEN_BIT
ORIENTATION = 0x0112
# what decode writes, by the output's extension: lossless formats only
# PNG at zlib level 1: a decoded 24 MP photo is written in 1.9 s instead of
# 7.5 s at Pillow's default 6, for files 2 to 20 % larger
LOSSLESS = {".png": ("PNG", {"compress_level": 1}), ".tif": ("TIFF", {"compression": "tiff_deflate"}),
            ".tiff": ("TIFF", {"compression": "tiff_deflate"}), ".bmp": ("BMP", {}),
            ".ppm": ("PPM", {}), ".pgm": ("PPM", {}), ".pnm": ("PPM", {}),
            ".webp": ("WEBP", {"lossless": True, "quality": 100}), ".tga": ("TGA", {})}


class Loaded(NamedTuple):
    array: np.ndarray  # uint8 (H, W, C), upright
    note: str | None  # what was converted, where the image's mode is not coded as it is
    icc: bytes  # its ICC profile, b"" if none
    exif: bytes  # its EXIF block with orientation 1, b"" if none


def to_codable(img: Image.Image) -> tuple[np.ndarray, str | None]:
    """uint8 (H, W, C) for L, RGB or RGBA, and a note when a conversion was needed."""
    mode = img.mode
    if mode in ("L", "RGB", "RGBA"):
        array, note = np.asarray(img), None
    elif mode in _SIXTEEN_BIT:
        wide = np.asarray(img).astype(np.int64)
        array = (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)
        note = f"16-bit greyscale ({mode}) reduced to 8 bits"
    else:
        target = "RGBA" if img.has_transparency_data else (
            "L" if mode in ("1", "F") else "RGB")
        kind = {"P": "palette", "1": "1-bit"}.get(mode, mode)
        array, note = np.asarray(img.convert(target)), f"{kind} image converted to {target}"
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array), note


def _exif_upright(upright: Image.Image) -> bytes:
    """The EXIF block of an image whose orientation has been applied, orientation 1."""
    exif = upright.getexif()
    if not len(exif):
        return b""
    exif[ORIENTATION] = 1  # exif_transpose drops the tag; a reader then assumes 1 anyway
    return exif.tobytes()


def load_image(source: str | os.PathLike | IO[bytes], name: str | None = None) -> Loaded:
    """Read any image Pillow reads (a path or a binary file), upright (EXIF
    orientation applied), with its colour profile and EXIF block."""
    label = name or str(source)
    try:
        with Image.open(source) as img:
            w, h = img.size
            if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise ImageError(f"{label}: {w}x{h} is larger than the codec supports "
                                 f"(each side at most {MAX_SIDE}, at most {MAX_PIXELS} pixels)")
            icc = img.info.get("icc_profile") or b""
            upright = ImageOps.exif_transpose(img)
            array, note = to_codable(upright)
            if icc and img.mode not in _PROFILE_KEPT:
                icc = b""
                note = "; ".join(filter(None, [note, f"its {img.mode} colour profile dropped"]))
            return Loaded(array, note, icc, _exif_upright(upright))
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{label}: cannot read image ({exc})") from None


def lossless_format(path: str) -> str:
    """The extension decode writes for ``path`` ("-": PNG); ImageError for a lossy or unknown one."""
    suffix = ".png" if path == "-" else Path(path).suffix.lower()
    if suffix not in LOSSLESS:
        raise ImageError(f"{path}: decode writes lossless formats only "
                         f"({', '.join(LOSSLESS)}), not {suffix or 'a file without extension'}")
    return suffix


def image_bytes(array: np.ndarray, suffix: str = ".png", icc: bytes = b"",
                exif: bytes = b"") -> bytes:
    """A uint8 (H, W, C) array as a file of the lossless format of ``suffix``,
    with the colour profile and EXIF block where the format holds them."""
    mode = CODED_MODES[array.shape[2]]
    fmt, options = LOSSLESS[suffix]
    extra = {k: v for k, v in (("icc_profile", icc), ("exif", exif)) if v}
    buf = io.BytesIO()
    try:
        Image.fromarray(array[:, :, 0] if mode == "L" else array, mode).save(
            buf, fmt, **options, **extra)
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot write a {mode} image as {fmt} ({exc})") from None
    return buf.getvalue()


def check_writable(path: str | os.PathLike) -> Path:
    """The folder ``path`` will be written in; ImageError where a write there would fail
    (checked before long work, such as a fit, rather than after it)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ImageError(f"{path}: directory {directory} does not exist")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory")
    if not os.access(directory, os.W_OK):
        raise ImageError(f"{path}: cannot write in {directory} (permission denied)")
    return directory


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write a file so that it is either complete or untouched, never half-written."""
    path = Path(path)
    directory = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise ImageError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        os.unlink(tmp)
        raise
