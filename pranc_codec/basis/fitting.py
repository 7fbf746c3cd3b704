"""What both formats' fits share besides the basis (torch): the learning-rate
curve and straight-through quantization of coefficients."""
from __future__ import annotations

import math

import torch

from .coefficients import QMAX_LIMIT


def lr_factor(step: int, total: int, warmup: float, final_lr: float) -> float:
    """The learning rate at ``step`` of ``total`` as a fraction of its peak: a linear
    warm-up over the first ``warmup`` of the steps, then a cosine decay to ``final_lr``."""
    warm = max(1, int(total * warmup))
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return final_lr + (1.0 - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def fake_quantize(values: torch.Tensor, step: float) -> torch.Tensor:
    """coefficients.quantize's values forward, identity gradient backward (straight-through)."""
    hard = torch.round(values / step).clamp(-QMAX_LIMIT, QMAX_LIMIT) * step
    return values + (hard - values).detach()
