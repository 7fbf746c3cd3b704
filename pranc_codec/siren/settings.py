"""Format v1's encoder settings and presets (``--arch siren``), and its group plan.

Only the encoder reads these: everything a decoder needs is in the file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..basis.groups import Group
from . import bitstream
from .bitstream import GroupHeader, Header
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


def check_decodable(s: Settings, height: int, width: int, channels: int) -> None:
    """PrcFormatError naming the cap where a file of these settings for this image
    would ask more of a decoder than it allows."""
    net = Siren(s.width, s.depth, channels, s.w0)
    groups = tuple(GroupHeader(g.size, g.chunk, g.rank, g.scale, 1.0, 1, 0)
                   for g in plan_groups(net, s))
    bitstream.validate_header(Header(width, height, channels, s.width, s.depth, s.w0, s.seed,
                                     groups))
