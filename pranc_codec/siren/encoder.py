"""The v1 encoder: fit a SIREN to an image, quantize, range-code and pack it (torch).

codec.encode checks the image and the settings, then calls encode_image (a
fit at the settings' k), or ``rate`` for a target rate or quality, which
builds on the same steps: fit, finetune, pack.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm import tqdm

from ..basis import coefficients
from ..basis.fitting import fake_quantize
from ..basis.product import Reparam
from . import bitstream
from .bitstream import GroupHeader, Header
from .fit import FitSettings, Problem, evaluate, train
from .inr import Siren
from .settings import Settings, plan_groups


@dataclass
class Fitted:
    """A fitted image: the problem, its groups and the trained coefficients."""

    problem: Problem
    settings: Settings
    coeffs: list[torch.Tensor]

    @property
    def groups(self):
        return self.problem.reparam.groups

    def steps(self, scale: float = 1.0) -> list[float]:
        """Each group's quantization step: its relative step times ``scale``."""
        s = self.settings
        return [coefficients.quant_step(c.numpy(), scale * (s.rel_step_direct if g.direct
                                                       else s.rel_step))
                for c, g in zip(self.coeffs, self.groups)]

    def quantized(self, qsteps: list[float]) -> list[torch.Tensor]:
        """The coefficients as the decoder will see them under qsteps."""
        return [torch.from_numpy(coefficients.dequantize(coefficients.quantize(c.numpy(), st), st))
                for c, st in zip(self.coeffs, qsteps)]

    def psnr(self, qsteps: list[float] | None = None) -> float:
        """PSNR of the image rendered from the (quantized, if qsteps) coefficients."""
        return evaluate(self.problem, self.coeffs if qsteps is None else self.quantized(qsteps))


def fit(image: np.ndarray, s: Settings, progress: bool = False) -> Fitted:
    """Fit a checked uint8 (H, W, C) image under settings s (no quantization yet)."""
    net = Siren(s.width, s.depth, image.shape[2], float(np.float32(s.w0)))
    groups = plan_groups(net, s)
    problem = Problem(net, Reparam(s.seed, groups, net.init_bounds()), image)
    zeros = [torch.zeros(g.n_coeffs) for g in groups]
    coeffs = train(problem, zeros, FitSettings.of(s), s.steps, seed=s.seed,
                   desc=f"fit k={sum(len(c) for c in zeros)}", progress=progress)
    fitted = Fitted(problem, s, coeffs)
    if progress:
        tqdm.write(f"fit: {fitted.psnr():.2f} dB before quantization")
    return fitted


def finetune(fitted: Fitted, qsteps: list[float], progress: bool = False) -> Fitted:
    """Quantization-aware fine-tuning for the given steps (a no-op at qat_fraction 0)."""
    s = fitted.settings
    qat_steps = int(s.steps * s.qat_fraction)
    if not qat_steps:
        return fitted
    coeffs = train(fitted.problem, fitted.coeffs, FitSettings.of(s), qat_steps,
                   lr_scale=s.qat_lr_scale, transform=lambda i, v: fake_quantize(v, qsteps[i]),
                   seed=s.seed + 1, desc="quantization-aware", progress=progress)
    return replace(fitted, coeffs=coeffs)


def pack(fitted: Fitted, qsteps: list[float]) -> bytes:
    """The .prc bytes of the fitted coefficients quantized with qsteps."""
    s, image = fitted.settings, fitted.problem.image
    ints = [coefficients.quantize(c.numpy(), st) for c, st in zip(fitted.coeffs, qsteps)]
    models = [coefficients.fit_laplace(q) for q in ints]
    payload = coefficients.encode(ints, models)
    header = Header(
        width=image.shape[1], height=image.shape[0], channels=image.shape[2],
        inr_width=s.width, inr_depth=s.depth, w0=fitted.problem.net.w0, seed=s.seed,
        groups=tuple(
            GroupHeader(size=g.size, chunk=g.chunk, rank=g.rank, scale=g.scale,
                        step=st, laplace=t, qmax=qmax)
            for g, st, (t, qmax) in zip(fitted.groups, qsteps, models)
        ),
    )
    return bitstream.pack(header, payload)


def encode_image(image: np.ndarray, s: Settings, progress: bool = False) -> bytes:
    """The .prc bytes of a checked image at the settings' k and quantization."""
    fitted = fit(image, s, progress)
    qsteps = fitted.steps()
    return pack(finetune(fitted, qsteps, progress), qsteps)
