"""Every codec the benchmark compares, behind one small base class.

A codec has a name, a description, a list of operating points (each a dict
of settings) and encode/decode between uint8 (H, W, C) arrays and the bytes
of a whole file. ``version`` changes whenever the codec's output may change,
so cached results are recomputed exactly when they are stale.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import io
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

from pranc_codec import codec as prc

from . import coin

Point = dict


def label(point: Point) -> str:
    """A point as text, e.g. ``k=3000`` or ``quality=50``."""
    return ",".join(f"{k}={v}" for k, v in sorted(point.items()))


class Codec:
    name: str = ""
    description: str = ""
    points: list[Point] = []
    # Slow codecs run one at a time in the main process, and their files are
    # kept in the cache (decoding one for the comparison figure costs nothing).
    expensive: bool = False

    def __init__(self, points: list[Point] | None = None):
        if points is not None:
            self.points = points

    def encode(self, image: np.ndarray, point: Point) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError

    def library_version(self) -> str:
        return f"Pillow {PIL.__version__}"

    @functools.cached_property
    def version(self) -> str:
        """The library's version and this class's code and settings.

        Points and descriptions are left out: adding a point must not make
        every cached result stale. Computed once, so a long run labels its
        results with the code it loaded even if the files change meanwhile.
        """
        parts = [self.library_version()]
        for cls in type(self).__mro__[:-1]:  # up to, not including, object
            for name, value in sorted(vars(cls).items()):
                if name in ("points", "description", "version") or name.startswith("_"):
                    continue
                parts.append(inspect.getsource(value) if inspect.isfunction(value)
                             else f"{name}={value!r}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


class PillowCodec(Codec):
    """A format Pillow writes; ``point`` holds the save() keyword arguments."""

    format: str = ""
    feature: str = ""

    def save_args(self, image: np.ndarray, point: Point) -> dict:
        return dict(point)

    def encode(self, image: np.ndarray, point: Point) -> bytes:
        img = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        buf = io.BytesIO()
        img.save(buf, format=self.format, **self.save_args(image, point))
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as img:
            array = np.asarray(img.convert("RGB" if img.mode not in ("L", "RGB") else img.mode))
        return array[:, :, None] if array.ndim == 2 else array

    def library_version(self) -> str:
        return f"Pillow {PIL.__version__} {self.feature} {features.version(self.feature)}"


class Jpeg(PillowCodec):
    name, format, feature = "jpeg", "JPEG", "jpg"
    description = "JPEG (Pillow/libjpeg, 4:2:0, optimized Huffman tables)"
    points = [{"quality": q} for q in (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)]

    def save_args(self, image: np.ndarray, point: Point) -> dict:
        return dict(point, subsampling=2, optimize=True)


class WebP(PillowCodec):
    name, format, feature = "webp", "WEBP", "webp"
    description = "WebP lossy (Pillow/libwebp, default method)"
    points = [{"quality": q} for q in (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)]


class Avif(PillowCodec):
    name, format, feature = "avif", "AVIF", "avif"
    description = "AVIF (Pillow/libavif, default speed)"
    points = [{"quality": q} for q in (0, 10, 20, 30, 40, 50, 60, 70, 80)]


class Jpeg2000(PillowCodec):
    name, format, feature = "jpeg2000", "JPEG2000", "jpg_2000"
    description = "JPEG 2000 (Pillow/OpenJPEG, 9/7 wavelet, colour transform, rate-controlled)"
    points = [{"bpp": b} for b in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)]

    def save_args(self, image: np.ndarray, point: Point) -> dict:
        # OpenJPEG's rate is a compression ratio against the raw 8-bit samples
        ratio = 8 * image.shape[2] / point["bpp"]
        # mct: the colour transform (Pillow leaves it off), without which RGB
        # is coded as three unrelated planes
        return dict(quality_mode="rates", quality_layers=[ratio], irreversible=True,
                    mct=1 if image.shape[2] == 3 else 0)


class JpegXl(PillowCodec):
    name, format = "jxl", "JXL"
    description = "JPEG XL (libjxl through pillow-jxl-plugin, effort 7)"
    points = [{"quality": q} for q in (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)]

    def save_args(self, image: np.ndarray, point: Point) -> dict:
        import pillow_jxl  # noqa: F401  registers the format with Pillow
        # one thread: the benchmark runs its classical codecs in --jobs processes
        return dict(point, effort=7, num_threads=1)

    def decode(self, data: bytes) -> np.ndarray:
        import pillow_jxl  # noqa: F401
        return super().decode(data)

    def library_version(self) -> str:
        return f"Pillow {PIL.__version__} pillow-jxl-plugin {importlib.metadata.version('pillow-jxl-plugin')}"


# The latent codec's data path, modules and whole packages of pranc_codec: a
# change to any file of them may change its output.
DATA_PATH = ("basis", "codec", "fileformat", "latent", "kernels.philox_cpu")
# Format v1's encoder and COIN are frozen: their rows were measured at commit
# 179f1cd and later changes to the shared modules left their output as it was
# (tests/siren/test_codec.py holds v1 to its reference file). Changing their output
# means changing these tags, which recomputes their rows.
SIREN_VERSION = "99601653bcc4"
COIN_VERSIONS = {"fp16": "fe89962596ea", "q8": "f26371e4c06a"}


def _package_hash(modules: tuple[str, ...] = DATA_PATH) -> str:
    digest = hashlib.sha256()
    for name in modules:
        path = Path(importlib.import_module(f"pranc_codec.{name}").__file__)
        for source in sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


class Pranc(Codec):
    name = "pranc"
    description = ("PRANC v3 (this codec: latents decoded by PRANC-coded networks, default "
                   "preset, one fit per rate weight lambda)")
    points = [{"lam": lam} for lam in (0.06, 0.025, 0.01, 0.004, 0.001, 0.00025)]
    expensive = True

    def encode(self, image: np.ndarray, point: Point) -> bytes:
        return prc.encode(image, **point)

    def decode(self, data: bytes) -> np.ndarray:
        return prc.decode(data)

    def library_version(self) -> str:
        return _package_hash()


class PrancFast(Pranc):
    name = "pranc-fast"
    description = "PRANC v3 at the fast preset (200 iterations), one fit per lambda"
    points = [{"lam": lam} for lam in (0.025, 0.01, 0.004)]
    preset = "fast"

    # Pranc.encode stays as it is: changing it would relabel, and so
    # recompute, every cached default-preset row
    def encode(self, image: np.ndarray, point: Point) -> bytes:
        return prc.encode(image, preset=self.preset, **point)


class PrancBest(PrancFast):
    name = "pranc-best"
    description = "PRANC v3 at the best preset (2500 iterations), one fit per lambda"
    preset = "best"


class PrancGpu(PrancFast):
    """Measured by ``benchmarks.gpu_check --curve`` on a CUDA GPU (images fitted
    together, rows cached as rd caches them); rd only reads its rows."""

    name = "pranc-gpu"
    description = "PRANC v3 at the gpu preset (10,000 whole-image iterations), one fit per lambda"
    points = [{"lam": lam} for lam in (0.025, 0.01, 0.004, 0.001)]
    preset = "gpu"


class PrancSiren(Pranc):
    name = "pranc-siren"
    description = "PRANC v1 (one SIREN, default preset, rate-controlled to a target bpp)"
    points = [{"bpp": b} for b in (0.05, 0.12, 0.3, 0.6)]

    def encode(self, image: np.ndarray, point: Point) -> bytes:
        return prc.encode(image, arch="siren", **point)

    @property
    def version(self) -> str:
        return SIREN_VERSION


class Coin(Codec):
    """The SIREN trained on its weights (benchmarks/coin.py), same steps as pranc."""

    variant = "fp16"
    name = "coin"
    description = "COIN: SIREN (depth 3) trained on its weights, stored as 16-bit floats"
    points = [{"width": w} for w in (24, 32, 48)]
    expensive = True

    def encode(self, image: np.ndarray, point: Point) -> bytes:
        s = prc.settings_for(arch="siren")
        return coin.encode(image, self.variant, point["width"], point.get("depth", s.depth),
                           point.get("steps", s.steps))

    def decode(self, data: bytes) -> np.ndarray:
        return coin.decode(data)

    @property
    def version(self) -> str:
        return COIN_VERSIONS[self.variant]


class CoinQ8(Coin):
    variant = "q8"
    name = "coin-q8"
    description = "COIN with 8-bit weights, range-coded per layer"
    points = [{"width": w} for w in (32, 48, 64)]


CODECS: dict[str, type[Codec]] = {
    c.name: c for c in (Pranc, PrancFast, PrancBest, PrancGpu, PrancSiren, Jpeg, WebP, Avif,
                        Jpeg2000, JpegXl, Coin, CoinQ8)
}
# what a run without --codecs measures: codecs at another preset cost minutes to
# hours an image, so they are asked for by name
DEFAULT_CODECS = [name for name, c in CODECS.items() if getattr(c, "preset", "default") == "default"]
