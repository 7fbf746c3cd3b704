"""Fitting a SIREN's coefficients to an image (torch): Adam on random pixel mini-batches.

Basis coefficients and direct values are separate Adam parameter groups with
their own learning rates. One loop serves the main fit and the
quantization-aware fine-tune (which sees straight-through quantized values).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..basis.fitting import lr_factor
from ..basis.product import Reparam
from ..metrics import psnr
from .inr import Siren, forward, pixel_coords, render


@dataclass(frozen=True)
class FitSettings:
    batch: int = 1 << 14  # pixels per step; the whole image when smaller
    lr_basis: float = 1e-2
    lr_direct: float = 1e-3
    warmup: float = 0.05  # fraction of steps with a linear warm-up
    final_lr: float = 0.05  # cosine decay to this fraction of the peak

    @classmethod
    def of(cls, settings) -> FitSettings:
        """The fit's share of the encoder's settings (a siren.settings.Settings)."""
        return cls(batch=settings.batch, lr_basis=settings.lr_basis,
                   lr_direct=settings.lr_direct)


@dataclass
class Problem:
    """One image to fit: the network, its parameterisation and the pixels."""

    net: Siren
    reparam: Reparam
    image: np.ndarray  # uint8 (H, W, C)

    def __post_init__(self) -> None:
        self.height, self.width, channels = self.image.shape
        self.coords = torch.from_numpy(pixel_coords(self.height, self.width))
        # the network's output range [-1, 1], as to_pixels maps it back
        pixels = self.image.reshape(-1, channels).astype(np.float32)
        self.target = torch.from_numpy(pixels / np.float32(127.5) - np.float32(1.0))


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of an MSE measured on the [-1, 1] scale."""
    return 10.0 * math.log10(4.0 / max(mse, 1e-12))


def train(
    problem: Problem,
    coeffs: list[torch.Tensor],
    settings: FitSettings,
    steps: int,
    lr_scale: float = 1.0,
    transform: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    desc: str = "fit",
    progress: bool = False,
) -> list[torch.Tensor]:
    """Adam on ``coeffs`` for ``steps`` steps; returns the trained values.

    ``transform(group_index, values)`` is applied before building theta
    (straight-through quantization during fine-tuning).
    """
    params = [c.detach().clone().requires_grad_(True) for c in coeffs]
    groups = problem.reparam.groups
    basis = [p for p, g in zip(params, groups) if not g.direct]
    direct = [p for p, g in zip(params, groups) if g.direct]
    peak = [settings.lr_basis * lr_scale, settings.lr_direct * lr_scale]
    opt = torch.optim.Adam([{"params": basis, "lr": peak[0]}, {"params": direct, "lr": peak[1]}])
    gen = torch.Generator().manual_seed(seed)
    n_pixels = problem.coords.shape[0]
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False, unit="step")
    for step in bar:
        factor = lr_factor(step, steps, settings.warmup, settings.final_lr)
        for group, lr in zip(opt.param_groups, peak):
            group["lr"] = lr * factor
        if settings.batch >= n_pixels:
            coords, target = problem.coords, problem.target
        else:
            idx = torch.randint(n_pixels, (settings.batch,), generator=gen)
            coords, target = problem.coords[idx], problem.target[idx]
        used = [transform(i, p) for i, p in enumerate(params)] if transform else params
        out = forward(problem.net, problem.reparam.theta(used), coords, torch.sin)
        loss = torch.mean((out - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress and (step % 10 == 0 or step == steps - 1):
            bar.set_postfix(loss=f"{loss.item():.5f}", psnr=f"{psnr_from_mse(loss.item()):.2f}")
    return [p.detach() for p in params]


@torch.no_grad()
def evaluate(problem: Problem, coeffs: list[torch.Tensor]) -> float:
    """PSNR (dB, 8-bit) of the full rendered image against the original."""
    theta = problem.reparam.theta(coeffs).numpy()
    return psnr(problem.image, render(problem.net, theta, problem.height, problem.width))
