"""Format v2's encoder settings and presets (the default format), the latent
grid a rate chooses, and --quality's rate weight.

Only the encoder reads these: everything a decoder needs is in the file.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import container
from .container import Head
from .decoder import check_caps


@dataclass(frozen=True)
class LatentSettings:
    """Format v2: a latent pyramid decoded by PRANC-coded networks."""

    lam: float = 1e-2  # rate weight: loss = MSE + lam * bits / pixels (larger: smaller files)
    iterations: int | None = None  # main phase (None: chosen with l0, grid_for)
    seed: int = 0x5EED
    l0: int | None = None  # finest grid: 1/2^l0 of the image (None: chosen by lam, grid_for)
    levels: int = 7
    syn_width: int = 40
    syn_layers: int = 2
    syn_res: int = 0  # 3x3 residual layers: none measured better at few iterations
    arm_context: int = 12
    arm_width: int = 16
    arm_layers: int = 2
    coeff_ratio: float = 0.5  # basis coefficients per parameter of a basis group
    chunk: int = 64
    # smaller layers are coded directly: with the default sizes only the second
    # synthesis layer (1640 parameters) is basis-coded, 8.1 % fewer bits than
    # basis-coding every layer of 128 or more over the Kodak curve (benchmarks/README.md)
    min_basis: int = 1000
    lr: float = 4e-2  # networks
    lr_latent: float = 0.1
    # each iteration's distortion is measured on every stride-th row and
    # column (None: chosen with l0, grid_for)
    stride: int | None = None
    qat_fraction: float = 0.1
    device: str = "cpu"

    def validate(self) -> None:
        """ValueError naming the first setting a file could not carry or a fit could not use."""
        checks = [
            ("lam", 0 < self.lam < 1e3), ("iterations", self.iterations is None or self.iterations >= 1),
            ("seed", 0 <= self.seed < 2**64), ("l0", self.l0 is None or 0 <= self.l0 <= container.MAX_L0),
            ("levels", 1 <= self.levels <= container.MAX_LEVELS),
            ("syn_width", 1 <= self.syn_width <= container.MAX_SYN_WIDTH),
            ("syn_layers", 0 <= self.syn_layers <= container.MAX_SYN_LAYERS),
            ("syn_res", 0 <= self.syn_res <= container.MAX_SYN_RES),
            ("arm_context", 1 <= self.arm_context <= container.MAX_ARM_CONTEXT),
            ("arm_width", 1 <= self.arm_width <= container.MAX_ARM_WIDTH),
            ("arm_layers", 0 <= self.arm_layers <= container.MAX_ARM_LAYERS),
            ("coeff_ratio", 0 < self.coeff_ratio), ("chunk", self.chunk >= 1),
            ("min_basis", self.min_basis >= 1), ("lr", self.lr > 0),
            ("lr_latent", self.lr_latent > 0), ("stride", self.stride is None or 1 <= self.stride <= 16),
            # a 3x3 layer needs neighbouring pixels, which a subsample lacks
            ("stride", self.syn_res == 0 or self.stride in (None, 1)),
            ("qat_fraction", 0 <= self.qat_fraction <= 1),
            ("device", self.device == "cpu" or self.device.startswith("cuda")),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"invalid setting {name} = {getattr(self, name)}")


# Below this lambda the finest latent grid is the image's own resolution
# (l0 0), above it half (l0 1): on kodim05 and kodim01 the full-resolution
# grid reached 1 to 2 bpp and 28.8 to 33 dB where the half-resolution one
# saturated near 0.7 bpp and 26.6 dB (kodim05), and cost it more bits than it
# gave below (benchmarks/README.md). A full-resolution grid is measured on
# every second row and column, where a half-resolution one is on every
# third (about 2x the iterations of the whole image in the same time, and
# better than either); every latent still gets a gradient every few
# iterations from the random offset. A half-resolution iteration costs about
# a third of a full-resolution one, so it gets more of them: 900 in place of
# 600 lowered J by 1.9-8.8 % on kodim01/05/13/20 for 1.4x the time; 800 is
# meant to keep the median encode under 60 s (benchmarks/README.md).
FULL_RES_LAM = 3e-3
FULL_RES_GRID = (0, 2, 600)  # (l0, stride, iterations)
HALF_RES_GRID = (1, 3, 800)


def with_grid(s: LatentSettings, full_res: bool) -> LatentSettings:
    """The settings with l0, stride and iterations set where they are None: the
    full- or the half-resolution grid (the whole image per iteration for 3x3
    residual layers, which need neighbours)."""
    l0, stride, iterations = FULL_RES_GRID if full_res else HALF_RES_GRID
    stride = 1 if s.syn_res else stride
    return replace(s, l0=l0 if s.l0 is None else s.l0, stride=stride if s.stride is None else s.stride,
                   iterations=iterations if s.iterations is None else s.iterations)


def grid_for(s: LatentSettings, lam: float) -> LatentSettings:
    """The settings with l0, stride and iterations chosen for a rate weight where they are None."""
    return with_grid(s, lam <= FULL_RES_LAM)


PRESETS = {
    # a half-width entropy model: its matmuls are most of an iteration; on
    # kodim01/05/20 at lambda 0.01 it fitted about a quarter faster to a lower
    # MSE + lambda * rate on all three, about neutral on all 24 (benchmarks/README.md)
    "fast": LatentSettings(iterations=200, arm_width=8),
    "default": LatentSettings(),
    "best": LatentSettings(iterations=2500, stride=2),
    # the long schedule latent codecs use, affordable on a GPU only
    "gpu": LatentSettings(iterations=10000, stride=1, device="cuda"),
}
# --quality Q (0 to 100) is lambda on a log scale: every 25 is a tenth of the
# rate weight; the default lambda, 0.01, is quality 37.
QUALITY_LAM0 = 0.3
QUALITY_DECADE = 25.0


def lam_for_quality(quality: float) -> float:
    """The rate weight lambda of a --quality value (larger: bigger, better files)."""
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be between 0 and 100, got {quality}")
    return QUALITY_LAM0 * 10.0 ** (-quality / QUALITY_DECADE)


def head(s: LatentSettings, height: int, width: int, channels: int) -> Head:
    """The HEAD section a file of these settings (its grid chosen) gets."""
    return Head(width=width, height=height, channels=channels, seed=s.seed, l0=s.l0,
                levels=s.levels, syn_width=s.syn_width, syn_layers=s.syn_layers,
                syn_res=s.syn_res, arm_context=s.arm_context, arm_width=s.arm_width,
                arm_layers=s.arm_layers)


def check_decodable(s: LatentSettings, height: int, width: int, channels: int) -> None:
    """PrcFormatError naming the cap where a file of these settings for this image
    would ask more of a decoder than it allows. A grid not yet chosen is
    checked at full resolution, the one with the most latents."""
    check_caps(head(replace(s, l0=0 if s.l0 is None else s.l0), height, width, channels))
