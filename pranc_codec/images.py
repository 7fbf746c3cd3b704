"""Reading images with Pillow into the modes the codec codes, and atomic writes."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import bitstream
from .errors import ImageError

CODED_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


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


def load_image(path: str | os.PathLike) -> tuple[np.ndarray, str | None]:
    """Read any image Pillow reads, upright (EXIF orientation applied)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w > bitstream.MAX_SIDE or h > bitstream.MAX_SIDE or w * h > bitstream.MAX_PIXELS:
                raise ImageError(f"{path}: {w}x{h} is larger than the codec supports "
                                 f"(each side at most {bitstream.MAX_SIDE}, "
                                 f"at most {bitstream.MAX_PIXELS} pixels)")
            return to_codable(ImageOps.exif_transpose(img))
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: cannot read image ({exc})") from None


def png_bytes(array: np.ndarray) -> bytes:
    """PNG of a uint8 (H, W, C) array in the mode its channel count implies."""
    mode = CODED_MODES[array.shape[2]]
    buf = io.BytesIO()
    Image.fromarray(array[:, :, 0] if mode == "L" else array, mode).save(buf, "PNG")
    return buf.getvalue()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write a file so that it is either complete or untouched, never half-written."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ImageError(f"{path}: directory {directory} does not exist")
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
