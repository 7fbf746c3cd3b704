"""Encoder settings and presets, for both formats, and v1's group plan.

Only the encoder reads these: everything a decoder needs is in the file.
``Settings`` steer the v1 SIREN encoder (``--arch siren``); ``LatentSettings``
the v2 latent codec, the default.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import bitstream, container
from .groups import Group
from .inr import Siren


@dataclass(frozen=True)
class Settings:
    """Encoder settings; the presets below pick sensible combinations."""

    k: int = 3000  # basis coefficients over all basis groups (a target; see plan_groups)
    steps: int = 600
    seed: int = 0x5EED
    width: int = 128
    depth: int = 3
    w0: float = 30.0
    chunk: int = 128  # m; 0 makes every basis group dense (one chunk)
    direct_ends: bool = True  # code the first and last layers directly
    batch: int = 1 << 14
    lr_basis: float = 3e-2
    lr_direct: float = 1e-3
    # quantization step / RMS of a basis group's coefficients: at equal rate,
    # fewer finer coefficients won (0.15 over 0.3 and 0.6, benchmarks/README.md)
    rel_step: float = 0.15
    rel_step_direct: float = 0.15
    qat_fraction: float = 0.1  # quantization-aware fine-tune, as a fraction of steps
    qat_lr_scale: float = 0.1

    def validate(self) -> None:
        """ValueError naming the first setting a file could not carry or a fit could not use."""
        checks = [
            ("k", self.k >= 1), ("steps", self.steps >= 1), ("batch", self.batch >= 1),
            ("seed", 0 <= self.seed < 2**64),
            ("width", 1 <= self.width <= bitstream.MAX_INR_WIDTH),
            ("depth", 1 <= self.depth <= bitstream.MAX_INR_DEPTH),
            ("w0", 1e-3 <= self.w0 <= 1e3), ("chunk", self.chunk >= 0),
            ("rel_step", self.rel_step > 0), ("rel_step_direct", self.rel_step_direct > 0),
            ("qat_fraction", 0 <= self.qat_fraction <= 1),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"invalid setting {name} = {getattr(self, name)}")


PRESETS = {
    "fast": Settings(k=1500, steps=400, width=64, batch=1 << 13),
    "default": Settings(),
    "best": Settings(k=6000, steps=3000, width=192),
}


def plan_groups(net: Siren, s: Settings) -> list[Group]:
    """One group per layer; k shared among basis groups in proportion to size.

    A basis group of n parameters gets C = ceil(n / m) chunks and
    r = max(1, round(k_g / C)) coefficients per chunk, so the total is close
    to, not exactly, k. Its basis scale is theta0's RMS over the group.
    """
    sizes = net.layer_sizes()
    direct = {0, len(sizes) - 1} if s.direct_ends and len(sizes) > 1 else set()
    basis_total = sum(n for i, n in enumerate(sizes) if i not in direct)
    bounds = net.init_bounds()
    layout, start = [], 0
    for i, n in enumerate(sizes):
        if i in direct:
            layout.append(Group(start, n))
        else:
            chunk = n if s.chunk <= 0 else min(s.chunk, n)
            n_chunks = math.ceil(n / chunk)
            rank = max(1, round(s.k * n / basis_total / n_chunks))
            rms = float(np.sqrt(np.mean(bounds[start:start + n].astype(np.float64) ** 2 / 3.0)))
            # beyond full rank (r = m) more coefficients add nothing
            layout.append(Group(start, n, chunk, min(rank, chunk, 65535), float(np.float32(rms))))
        start += n
    return layout


@dataclass(frozen=True)
class LatentSettings:
    """Format v2: a latent pyramid decoded by PRANC-coded networks."""

    lam: float = 1e-2  # rate weight: loss = MSE + lam * bits / pixels (larger: smaller files)
    iterations: int = 600
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
            ("lam", 0 < self.lam < 1e3), ("iterations", self.iterations >= 1),
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
# iterations from the random offset.
FULL_RES_LAM = 3e-3
FULL_RES_GRID = (0, 2)  # (l0, stride)
HALF_RES_GRID = (1, 3)


def with_grid(s: LatentSettings, full_res: bool) -> LatentSettings:
    """The settings with l0 and stride set where they are None: the full- or the
    half-resolution grid (the whole image per iteration for 3x3 residual
    layers, which need neighbours)."""
    l0, stride = FULL_RES_GRID if full_res else HALF_RES_GRID
    stride = 1 if s.syn_res else stride
    return replace(s, l0=l0 if s.l0 is None else s.l0, stride=stride if s.stride is None else s.stride)


def grid_for(s: LatentSettings, lam: float) -> LatentSettings:
    """The settings with l0 and stride chosen for a rate weight where they are None."""
    return with_grid(s, lam <= FULL_RES_LAM)


LATENT_PRESETS = {
    # a half-width entropy model: its matmuls are most of an iteration; on
    # kodim01/05/20 at lambda 0.01 it fitted about a quarter faster to a lower
    # MSE + lambda * rate on all three, about neutral on all 24 (benchmarks/README.md)
    "fast": LatentSettings(iterations=200, arm_width=8),
    "default": LatentSettings(),
    "best": LatentSettings(iterations=2500, stride=2),
    # the long schedule latent codecs use, affordable on a GPU only
    "gpu": LatentSettings(iterations=10000, stride=1, device="cuda"),
}
ARCHS = {"latent": LATENT_PRESETS, "siren": PRESETS}
# --quality Q (0 to 100) is lambda on a log scale: every 25 is a tenth of the
# rate weight; the default lambda, 0.01, is quality 37.
QUALITY_LAM0 = 0.3
QUALITY_DECADE = 25.0


def lam_for_quality(quality: float) -> float:
    """The rate weight lambda of a --quality value (larger: bigger, better files)."""
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be between 0 and 100, got {quality}")
    return QUALITY_LAM0 * 10.0 ** (-quality / QUALITY_DECADE)


def settings_for(preset: str = "default", arch: str = "latent", **overrides):
    """A preset of format ``arch`` with some fields replaced (None values are ignored)."""
    presets = ARCHS.get(arch)
    if presets is None:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    unknown = set(overrides) - set(asdict(presets[preset]))
    if unknown:
        raise TypeError(f"unknown encoder setting(s) for {arch}: {', '.join(sorted(unknown))}")
    settings = replace(presets[preset], **{k: v for k, v in overrides.items() if v is not None})
    settings.validate()
    return settings
