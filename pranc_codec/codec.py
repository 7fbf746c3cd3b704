"""encode(image) -> .prc bytes and decode(.prc bytes) -> image, and the settings.

image -> fit (fit.py) -> quantize + range code (entropy.py) -> container
(bitstream.py): encoder.py, with torch. And back: unpack -> range decode ->
theta (groups.py) -> render (inr.py), numpy only, so a decode never loads
torch. The settings only steer the encoder: everything the decoder needs is
in the header.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import bitstream, entropy, groups
from .bitstream import Header
from .errors import PrcFormatError
from .groups import Group
from .inr import Siren, render


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


def settings_for(preset: str = "default", **overrides) -> Settings:
    """A preset with some fields replaced (None values are ignored)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = set(overrides) - set(asdict(PRESETS[preset]))
    if unknown:
        raise TypeError(f"unknown encoder setting(s): {', '.join(sorted(unknown))}")
    settings = replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
    settings.validate()
    return settings


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


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in bitstream.CHANNELS:
        raise ValueError("image must be uint8 of shape (height, width, 1|3|4)")
    h, w = image.shape[:2]
    if not (1 <= h <= bitstream.MAX_SIDE and 1 <= w <= bitstream.MAX_SIDE) \
            or h * w > bitstream.MAX_PIXELS:
        raise ValueError(f"{w}x{h} is outside the supported size (each side at most "
                         f"{bitstream.MAX_SIDE}, at most {bitstream.MAX_PIXELS} pixels)")


def encode(image: np.ndarray, preset: str = "default", progress: bool = False,
           bpp: float | None = None, psnr: float | None = None, **overrides) -> bytes:
    """Fit, quantize and pack one uint8 (H, W, C) or (H, W) image; returns the .prc bytes.

    By default the rate follows the settings' k. ``bpp`` aims at a file size
    and ``psnr`` at a quality instead, starting from k (see pranc_codec.rate;
    a RateNote warning says when a target is out of reach).
    """
    if image.ndim == 2:
        image = image[:, :, None]
    _check_image(image)
    if bpp is not None and psnr is not None:
        raise ValueError("give a target bpp or a target PSNR, not both")
    if bpp is not None and overrides.get("k") is not None:
        raise ValueError("give k or a target bpp, not both: the target chooses k")
    settings = settings_for(preset, **overrides)
    # Imported here, not at the top: torch is needed to encode, and only to encode.
    from . import encoder, rate

    if bpp is not None:
        return rate.encode_to_bpp(image, settings, bpp, progress)
    if psnr is not None:
        return rate.encode_to_psnr(image, settings, psnr, progress)
    return encoder.encode_image(image, settings, progress)


def network(header: Header) -> tuple[Siren, list[Group]]:
    """The INR and the coefficient groups a header describes."""
    net = Siren(header.inr_width, header.inr_depth, header.channels, header.w0)
    if sum(g.size for g in header.groups) != net.n_params:
        raise PrcFormatError(
            f"groups cover {sum(g.size for g in header.groups)} parameters but a SIREN of "
            f"width {net.width} and depth {net.depth} has {net.n_params}")
    layout, start = [], 0
    for g in header.groups:
        layout.append(Group(start, g.size, g.chunk, g.rank, g.scale))
        start += g.size
    return net, layout


def decode(data: bytes) -> np.ndarray:
    """The uint8 (H, W, C) image of a .prc file; PrcFormatError if it is malformed."""
    header, payload = bitstream.unpack(data)
    net, layout = network(header)
    models = [(g.laplace, g.qmax) for g in header.groups]
    ints = entropy.decode(payload, models, [g.n_coeffs for g in layout])
    coeffs = [entropy.dequantize(q, g.step) for q, g in zip(ints, header.groups)]
    theta = groups.theta(header.seed, layout, net.init_bounds(), coeffs)
    return render(net, theta, header.height, header.width)
