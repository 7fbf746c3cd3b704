"""The v2 fit's schedule: its phases, and in each the learning rates and the
latents' rounding at every iteration.

A fit has two phases. The main one trains the latents and the networks'
coefficients with the latents soft-rounded and noised throughout (a
straight-through phase after it raised the rounded latents' rate and lost
what the noise phase had won, the more so the longer the fit:
benchmarks/README.md). Once the coefficients' steps are chosen, a
quantization-aware phase tunes the networks alone on the rounded latents.
The learning rate follows a warm-up and a cosine decay in each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..basis.fitting import lr_factor
from .settings import LatentSettings

# The latents' soft-round temperature over the main fit, first and last:
# plain additive noise let the rate estimate drift from the rounded latents'
# (kodim15 at lambda 0.04: 0.096 bpp estimated, 0.204 rounded, 0.29 in the file);
# soft rounding keeps them together. Tuned on kodim01 and kodim05 against (0.3, 0.1).
SOFT_ROUND = (0.5, 0.25)
QAT_LR_SCALE = 0.1  # the quantization-aware phase's learning rate, of the main one's
QAT_WARMUP = 0.1
# The main phase ends at the best of its states every CHECK_EVERY iterations
# over its last KEEP_FROM, the quantization-aware one at the best of its
# start and QAT_CHECKS states (each judged on the whole image: the cost of
# a few strided iterations).
CHECK_EVERY = 250
KEEP_FROM = 0.4
QAT_CHECKS = 4


@dataclass(frozen=True)
class Schedule:
    """One phase of a fit."""

    iterations: int
    lr: float = 1e-2  # the networks' coefficients (over sqrt(rank) for a basis group)
    # latents move by about this much a step (few steps need many); 0 holds them fixed
    lr_latent: float = 0.1
    soft: tuple[float, float] | None = None  # soft-round temperatures, first and last
    warmup: float = 0.02
    final_lr: float = 0.01
    stride: int = 1  # each iteration's distortion sees every stride-th row and column
    # the latents' quantization throughout (a mode of LatentFit.quantized_latents);
    # None: uniform noise, soft-rounded where ``soft`` is set
    quant: str | None = None
    # a judge (LatentFit.train) is asked after ``checks`` iterations spread evenly
    # over the phase's last ``keep_from`` (the last of them the phase's last), and
    # before the first where ``judge_start``; the best state is kept
    checks: int = 0
    keep_from: float = 1.0
    judge_start: bool = False

    def checkpoints(self) -> set[int]:
        """The iterations after which the fit's judge is asked; -1: before the first
        (none: the phase ends where it ends)."""
        n, k = self.iterations, self.checks
        first = int(n * (1 - self.keep_from))
        return ({first + (n - 1 - first) * (i + 1) // k for i in range(k)}
                | ({-1} if self.judge_start else set()))

    @property
    def moves_latents(self) -> bool:
        return self.lr_latent > 0

    def peak_lrs(self, ranks: list[int]) -> list[float]:
        """The peak learning rate of each trained tensor: the latents (where they
        move), then each coefficient group of the given ranks."""
        return (([self.lr_latent] if self.moves_latents else []) +
                [self.lr / math.sqrt(max(1, r)) for r in ranks])

    def lr_factor(self, it: int) -> float:
        """Every learning rate at iteration ``it``, as a fraction of its peak."""
        return lr_factor(it, self.iterations, self.warmup, self.final_lr)

    def rounding(self, it: int) -> tuple[str, float | None]:
        """How the latents are quantized at iteration ``it``: (a mode of
        LatentFit.quantized_latents, its soft-round temperature or None)."""
        mode = self.quant or "noise"
        if mode == "noise" and self.soft:
            t0, t1 = self.soft
            return "soft", t0 + (t1 - t0) * it / self.iterations
        return mode, None


def main_fit(s: LatentSettings) -> Schedule:
    """The main phase of settings whose grid is chosen (``settings.grid_for``)."""
    return Schedule(s.iterations, s.lr, s.lr_latent, stride=s.stride, soft=SOFT_ROUND,
                    checks=int(s.iterations * KEEP_FROM) // CHECK_EVERY, keep_from=KEEP_FROM)


def quantization_aware(s: LatentSettings) -> Schedule | None:
    """The networks alone at a tenth of the learning rate, on the rounded latents
    (moved by straight-through rounding, the latents lost more than the
    networks gained: benchmarks/README.md); None where ``qat_fraction``
    leaves it no iteration."""
    n = int(s.iterations * s.qat_fraction)
    if not n:
        return None
    return Schedule(n, s.lr * QAT_LR_SCALE, 0.0, warmup=QAT_WARMUP, stride=s.stride, quant="round",
                    checks=QAT_CHECKS, judge_start=True)
