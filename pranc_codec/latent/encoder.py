"""The v2 encoder: fit latents and networks, quantize, entropy-code, pack (torch).

fit (``fit``, in the phases of ``schedule``) -> each network group's
power-of-two step chosen by rate-distortion -> quantization-aware tuning of
the networks at those steps, on the rounded latents -> pack: the
coefficients are range-coded as v1's, the integer weights rebuilt exactly
as the decoder will (``basis.netweights``), and every latent grid coded
with the fixed-point entropy model the decoder runs (``entropy_model``).
``rate`` aims at a file size or a quality by choosing lambda.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm import tqdm

from ..basis import coefficients, netweights
from ..basis.fitting import fake_quantize
from ..basis.netweights import MAX_STEP_EXP, MIN_STEP_EXP
from . import container, entropy_model, schedule
from .architecture import Architecture
from .container import LatentFile, NetGroup
from .entropy_model import ArmShape
from .fit import WHOLE_PIXELS, LatentFit
from .multi_fit import MultiFit
from .grids import LATENT_MAX
from .networks import contexts, synthesize
from .settings import LatentSettings, grid_for, head
from .synthesis import SynthesisShape

# Step exponents tried around each group's starting guess (a quarter of its RMS).
STEP_SEARCH = (-2, 1)


def architecture(image: np.ndarray, s: LatentSettings) -> Architecture:
    return Architecture(SynthesisShape(s.levels, s.syn_width, s.syn_layers, s.syn_res, image.shape[2]),
                        ArmShape(s.arm_context, s.arm_width, s.arm_layers))


@dataclass
class Fitted:
    fit: LatentFit
    settings: LatentSettings
    step_exps: list[int]


def quantize(coeffs: list[torch.Tensor], exps: list[int]) -> list[np.ndarray]:
    return [coefficients.quantize(c.cpu().numpy(), 2.0**e) for c, e in zip(coeffs, exps)]


def coeff_bits(q: np.ndarray) -> float:
    t, qmax = coefficients.fit_laplace(q)
    return 0.0 if qmax == 0 else coefficients.cost_bits(t, qmax, q.size, int(np.abs(q).sum()))


class RoundedProbe:
    """The rounded latents' distortion and bits as the networks' weights change
    (choosing the quantization steps measures both a few dozen times): the
    features and contexts, which only the latents set, are made once, and
    the image is synthesized in blocks of rows, where whole-image
    intermediates ran memory-bound (the network at 768x512: 32 ms against
    176 ms, the same values; 3x3 residual layers need their neighbours, so
    they get the whole image). A large image (``LatentFit.banded``) keeps
    neither: its features and contexts are made again for each band, whose
    memory is all it needs, and its MSE is measured on every STRIDE-th row and
    column (millions of pixels still: on a 24 MP photo the steps took 53 s
    measured on all of them)."""

    ROWS = 16
    STRIDE = 2

    @torch.no_grad()
    def __init__(self, fit: LatentFit):
        self.fit = fit
        self.latents = fit.quantized_latents("round")
        if not fit.banded:
            self.feats = torch.stack([up(g, slice(None), slice(None))
                                      for g, up in zip(self.latents, fit.upsamplers)], dim=-1)
            self.ctxs = [contexts(g, fit.arch.arm.context) for g in self.latents]

    @staticmethod
    def _rounded(out: torch.Tensor) -> torch.Tensor:
        return torch.round(out.clamp(0, 1) * 255) / 255

    @torch.no_grad()
    def mse(self, theta: torch.Tensor) -> float:
        """MSE on 0..1 pixels of the 8-bit output at weights ``theta``."""
        fit, shape = self.fit, self.fit.arch.synthesis
        theta_syn = theta[:shape.n_params]
        if fit.banded:
            stride = 1 if shape.res else self.STRIDE  # 3x3 layers see every row
            rows, cols = slice(0, None, stride), slice(0, None, stride)
            total = sum(float(torch.sum((self._rounded(fit.synthesize_band(
                self.latents, theta_syn, band, cols)) - fit.target[band][:, cols]) ** 2))
                for band in fit.row_bands(rows))
            return total / fit.target[rows][:, cols].numel()
        rows = fit.height if shape.res else self.ROWS
        out = torch.cat([synthesize(shape, theta_syn, self.feats[r:r + rows])
                         for r in range(0, fit.height, rows)])
        return float(torch.mean((self._rounded(out) - fit.target) ** 2))

    @torch.no_grad()
    def bits(self, theta: torch.Tensor) -> float:
        """Bits of the rounded latents at weights ``theta``."""
        theta_arm = theta[self.fit.arch.synthesis.n_params:]
        if self.fit.banded:
            return sum(float(part) for part in self.fit.band_bits(self.latents, theta_arm))
        return float(self.fit.latent_bits(self.latents, theta_arm, self.ctxs))


def choose_steps(fit: LatentFit, lam: float, progress: bool = False) -> list[int]:
    """Each group's step exponent minimising MSE + lam * bits / pixels, one group
    at a time. A synthesis group's step leaves the latents' bits as they are,
    an entropy model group's the MSE: each is measured once per group."""
    pixels = fit.height * fit.width
    probe = RoundedProbe(fit)
    n_syn = fit.arch.synthesis.n_params
    exps, chosen = [], []  # the exponents so far and the coefficients they quantize to
    # a bar where the steps take a while: tens of seconds on a camera photo
    groups = tqdm(list(zip(fit.coeffs, fit.groups)), desc="steps", unit="group",
                  disable=not progress, leave=False)
    for i, (c, g) in enumerate(groups):
        synthesis = g.start < n_syn
        theta = fit.theta(chosen + fit.coeffs[i:])
        fixed = probe.bits(theta) if synthesis else probe.mse(theta)
        rms = float(c.pow(2).mean().sqrt()) if c.numel() else 0.0
        guess = int(np.clip(round(math.log2(max(rms, 1e-6) / 4)), MIN_STEP_EXP, MAX_STEP_EXP))
        best = None
        lo, hi = guess + STEP_SEARCH[0], guess + STEP_SEARCH[1]
        for e in range(max(MIN_STEP_EXP, lo), min(MAX_STEP_EXP, hi) + 1):
            q = quantize([c], [e])[0]
            values = torch.from_numpy(coefficients.dequantize(q, 2.0**e)).to(fit.device)
            theta = fit.theta(chosen + [values] + fit.coeffs[i + 1:])
            mse, bits = (probe.mse(theta), fixed) if synthesis else (fixed, probe.bits(theta))
            cost = mse + lam * (bits + coeff_bits(q)) / pixels
            if best is None or cost < best[0]:
                best = (cost, e, values)
        exps.append(best[1])
        chosen.append(best[2])
    return exps


def judge(fit: LatentFit, lam: float, steps: list[float],
          used: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None = None
          ) -> Callable[[], float]:
    """The loss of the fit as it stands, as the file would have it: the rounded
    latents' MSE (of the 8-bit output) and bits, and the coefficients' bits
    at ``steps`` (through ``used``, what the coefficients go through, given
    for the quantization-aware phase: its latents stay put, so their
    features and contexts are made once)."""
    pixels = fit.height * fit.width
    fixed = RoundedProbe(fit) if used else None

    @torch.no_grad()
    def loss() -> float:
        probe = fixed or RoundedProbe(fit)
        coeffs = used(fit.coeffs) if used else fit.coeffs
        theta = fit.theta(coeffs)
        return probe.mse(theta) + lam * (probe.bits(theta) + float(fit.coeff_bits(coeffs, steps))) / pixels
    return loss


def fit(image: np.ndarray, s: LatentSettings, lam: float, progress: bool = False) -> Fitted:
    """Fit from scratch: the main schedule, then each network group's step, then
    quantization-aware tuning."""
    s = grid_for(s, lam)
    lf = _start(image, s)
    guess_steps = [2.0**-8] * len(lf.groups)
    lf.train(schedule.main_fit(s), lam, guess_steps, progress=progress, desc="fit",
             judges=[judge(lf, lam, guess_steps)])
    return _finish(lf, s, lam, progress)


def fit_many(images: list[np.ndarray], s: LatentSettings, lams: list[float],
             progress: bool = False) -> list[Fitted]:
    """fit() of several images of one shape, each at its own lambda: the main
    schedule of all in lockstep (``multi_fit``), then each image's steps and
    quantization-aware tuning on its own. The lambdas must choose the same
    latent grids (``grid_for``)."""
    chosen = [grid_for(s, lam) for lam in lams]
    if len(set(chosen)) > 1:
        raise ValueError("these lambdas choose different latent grids: fit them apart")
    s = chosen[0]
    fits = [_start(image, s) for image in images]
    guess_steps = [2.0**-8] * len(fits[0].groups)
    MultiFit(fits, lams).train(schedule.main_fit(s), 0.0, guess_steps, progress=progress,
                               desc=f"fit x{len(fits)}",
                               judges=[judge(lf, lam, guess_steps) for lf, lam in zip(fits, lams)])
    for lf in fits:  # each owns its tensors again
        lf.latents = [t.detach().clone() for t in lf.latents]
        lf.coeffs = [t.detach().clone() for t in lf.coeffs]
    return [_finish(lf, s, lam, progress) for lf, lam in zip(fits, lams)]


def _start(image: np.ndarray, s: LatentSettings) -> LatentFit:
    arch = architecture(image, s)
    groups = netweights.plan(arch.layer_sizes(), s.coeff_ratio, s.chunk, s.min_basis)
    torch.manual_seed(s.seed)
    return LatentFit(image, arch, groups, s.seed, s.l0, s.device)


def _finish(lf: LatentFit, s: LatentSettings, lam: float, progress: bool) -> Fitted:
    """After the main schedule: each network group's step, then quantization-aware tuning."""
    exps = choose_steps(lf, lam, progress)
    qat = schedule.quantization_aware(s)
    if qat:
        steps = [2.0**e for e in exps]

        def quantized(coeffs: list[torch.Tensor]) -> list[torch.Tensor]:
            return [fake_quantize(v, step) for v, step in zip(coeffs, steps)]

        lf.train(qat, lam, steps, coeff_transform=quantized, progress=progress,
                 desc="quantization-aware", judges=[judge(lf, lam, steps, quantized)])
    return Fitted(lf, s, exps)


def latent_ints(y: torch.Tensor, deadzone: float = 0.0) -> np.ndarray:
    """Latents as the file's integers: rounded, or with a dead zone (|y| is rounded
    after subtracting ``deadzone``, so small values go to zero and the rate falls)."""
    y = y.detach().cpu().clamp(-LATENT_MAX, LATENT_MAX)
    q = torch.sign(y) * torch.floor((y.abs() - deadzone).clamp_min(0) + 0.5)
    return q.numpy().astype(np.int64)


def pack(fitted: Fitted, deadzone: float = 0.0) -> bytes:
    """The file of a fitted image (latents rounded with ``deadzone``, see latent_ints)."""
    lf, s = fitted.fit, fitted.settings
    q = quantize(lf.coeffs, fitted.step_exps)
    models = [coefficients.fit_laplace(x) for x in q]
    stepped = [replace(g, step_exp=e) for g, e in zip(lf.groups, fitted.step_exps)]
    theta = netweights.theta_int(s.seed, stepped, lf.arch.init_exps(), q)
    _, arm_theta = lf.arch.split(theta)
    streams = entropy_model.encode_grids([latent_ints(y, deadzone) for y in lf.latents], arm_theta,
                                         lf.arch.arm, entropy_model.PRECISION[container.VERSION])
    groups = tuple(NetGroup(g.size, g.chunk, g.rank, e, t, qmax)
                   for g, e, (t, qmax) in zip(lf.groups, fitted.step_exps, models))
    return container.pack(LatentFile(head(s, *lf.image.shape), groups,
                                     coefficients.encode(q, models), tuple(streams)))


def encode_image(image: np.ndarray, s: LatentSettings, progress: bool = False) -> bytes:
    """The file of a checked image at the settings' lambda."""
    return pack(fit(image, s, s.lam, progress))


def encode_images(images: list[np.ndarray], s: LatentSettings,
                  progress: bool = False) -> list[bytes]:
    """The files of checked images of one shape at the settings' lambda, fitted together
    (one at a time where they are fitted in bands, above WHOLE_PIXELS)."""
    if len(images) == 1 or images[0].shape[0] * images[0].shape[1] > WHOLE_PIXELS:
        return [encode_image(image, s, progress) for image in images]
    return [pack(f) for f in fit_many(images, s, [s.lam] * len(images), progress)]
