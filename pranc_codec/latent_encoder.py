"""The v2 encoder: fit latents and networks, quantize, entropy-code, pack (torch).

fit (``latent_fit``) -> each network group's power-of-two step chosen by
rate-distortion -> quantization-aware fine-tuning at those steps -> pack:
the coefficients are range-coded as v1's, the integer weights rebuilt
exactly as the decoder will (``netweights``), and every latent grid coded
with the fixed-point entropy model the decoder runs (``entropy_model``).
``encode_to_bpp`` aims at a file size, ``encode_to_psnr`` at a quality, by
choosing lambda.
"""
from __future__ import annotations

import math
from collections.abc import Callable
import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm import tqdm

from . import container, entropy, entropy_model, latent_decoder, netweights
from .container import FileV2, Head, NetGroup
from .entropy_model import ArmShape
from .errors import RateNote
from .fit import fake_quantize
from .latent_decoder import Architecture
from .latent_fit import LatentFit, Schedule
from .latents import LATENT_MAX
from .metrics import psnr
from .netweights import MAX_STEP_EXP, MIN_STEP_EXP, IntGroup
from .settings import LatentSettings
from .synthesis import SynthesisShape

# Step exponents tried around each group's starting guess (a quarter of its RMS).
STEP_SEARCH = (-2, 1)
# --bpp: (lambda, bpp) of the default preset on kodim05 (a busy image: most
# images come out smaller at the same lambda), read as a piecewise line in
# log-log, extended at BPP_SLOPE beyond it; the search corrects the guess.
LAMBDA_BPP = ((3e-1, 0.0324), (1e-1, 0.0563), (3e-2, 0.166), (1e-2, 0.387), (3e-3, 0.566),
              (1e-3, 0.703))
BPP_SLOPE = -0.35
REFINE_SLOPE = -0.7  # a secant step's slope (log bpp per log lambda) until two files measure one
# --psnr: dB per log lambda until two files measure one (kodim05: -2.15), and
# how far above the target a refit aims.
DB_PER_LOG_LAMBDA = -2.0
PSNR_MARGIN = 0.2
PSNR_SLACK = 1.0  # a first fit clearing the target by more than this refits smaller
AIM_ABOVE = 1.15  # the fit aims this far above the target; the dead zone trims the rest
MAX_TRIM = 1.4  # the most the dead zone is asked to take off
MAX_REFINES = 3
REFINE_FRACTION = 0.25
BPP_TOLERANCE = 0.02
MAX_DEADZONE = 8.0
DEADZONE_SEARCH = 14


def architecture(image: np.ndarray, s: LatentSettings) -> Architecture:
    return Architecture(SynthesisShape(s.levels, s.syn_width, s.syn_layers, s.syn_res, image.shape[2]),
                        ArmShape(s.arm_context, s.arm_width, s.arm_layers))


@dataclass
class Fitted:
    fit: LatentFit
    settings: LatentSettings
    step_exps: list[int]


def quantize(coeffs: list[torch.Tensor], exps: list[int]) -> list[np.ndarray]:
    return [entropy.quantize(c.cpu().numpy(), 2.0**e) for c, e in zip(coeffs, exps)]


def coeff_bits(q: np.ndarray) -> float:
    t, qmax = entropy.fit_laplace(q)
    return 0.0 if qmax == 0 else entropy.cost_bits(t, qmax, q.size, int(np.abs(q).sum()))


def choose_steps(fit: LatentFit, lam: float) -> list[int]:
    """Each group's step exponent minimising MSE + lam * bits / pixels, one group at a time."""
    pixels = fit.height * fit.width
    exps, chosen = [], []  # the exponents so far and the coefficients they quantize to
    for i, c in enumerate(fit.coeffs):
        rms = float(c.pow(2).mean().sqrt()) if c.numel() else 0.0
        guess = int(np.clip(round(math.log2(max(rms, 1e-6) / 4)), MIN_STEP_EXP, MAX_STEP_EXP))
        best = None
        lo, hi = guess + STEP_SEARCH[0], guess + STEP_SEARCH[1]
        for e in range(max(MIN_STEP_EXP, lo), min(MAX_STEP_EXP, hi) + 1):
            q = quantize([c], [e])[0]
            values = torch.from_numpy(entropy.dequantize(q, 2.0**e)).to(fit.device)
            mse, bits = fit.measure(chosen + [values] + fit.coeffs[i + 1:])
            cost = mse + lam * (bits + coeff_bits(q)) / pixels
            if best is None or cost < best[0]:
                best = (cost, e, values)
        exps.append(best[1])
        chosen.append(best[2])
    return exps


def fit(image: np.ndarray, s: LatentSettings, lam: float, progress: bool = False) -> Fitted:
    """Fit from scratch: the main schedule, then the steps, then quantization-aware tuning."""
    arch = architecture(image, s)
    groups = netweights.plan(arch.layer_sizes(), s.coeff_ratio, s.chunk, s.min_basis)
    if s.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {s.device} needs a CUDA GPU, and torch sees none "
                         "(use a CPU preset)")
    torch.manual_seed(s.seed)
    lf = LatentFit(image, arch, groups, s.seed, s.l0, s.device)
    guess_steps = [2.0**-8] * len(groups)
    lf.train(Schedule(s.iterations, s.lr, s.lr_latent, stride=s.stride), lam, guess_steps,
             progress=progress, desc="fit")
    return finetune(Fitted(lf, s, []), lam, s.qat_fraction, progress)


def finetune(fitted: Fitted, lam: float, fraction: float, progress: bool = False,
             refit_fraction: float = 0.0) -> Fitted:
    """Optionally retrain with straight-through latents at a new lambda, then choose the
    steps and fine-tune with quantized coefficients."""
    s, lf = fitted.settings, fitted.fit
    if refit_fraction:
        n = max(1, int(s.iterations * refit_fraction))
        lf.train(Schedule(n, s.lr * 0.3, s.lr_latent * 0.3, warmup=0.1, stride=s.stride), lam,
                 [2.0**-8] * len(lf.groups), quant="ste", progress=progress,
                 desc=f"lambda {lam:.2e}")
    exps = choose_steps(lf, lam)
    n = int(s.iterations * fraction)
    if n:
        lf.train(Schedule(n, s.lr * 0.1, s.lr_latent * 0.1, warmup=0.1, stride=s.stride), lam,
                 [2.0**e for e in exps],
                 coeff_transform=lambda c: [fake_quantize(v, 2.0**e) for v, e in zip(c, exps)],
                 quant="ste", progress=progress, desc="quantization-aware")
    return Fitted(lf, s, exps)


def latent_ints(y: torch.Tensor, deadzone: float = 0.0) -> np.ndarray:
    """Latents as the file's integers: rounded, or with a dead zone (|y| is rounded
    after subtracting ``deadzone``, so small values go to zero and the rate falls)."""
    y = y.detach().cpu().clamp(-LATENT_MAX, LATENT_MAX)
    q = torch.sign(y) * torch.floor((y.abs() - deadzone).clamp_min(0) + 0.5)
    return q.numpy().astype(np.int64)


def pack(fitted: Fitted, deadzone: float = 0.0) -> bytes:
    """The v2 file of a fitted image (latents rounded with ``deadzone``, see latent_ints)."""
    lf, s = fitted.fit, fitted.settings
    q = quantize(lf.coeffs, fitted.step_exps)
    models = [entropy.fit_laplace(x) for x in q]
    stepped = [replace(g, step_exp=e) for g, e in zip(lf.groups, fitted.step_exps)]
    theta = netweights.theta_int(s.seed, stepped, lf.arch.init_exps(), q)
    _, arm_theta = lf.arch.split(theta)
    grids = tuple(entropy_model.encode_grid(latent_ints(y, deadzone), arm_theta, lf.arch.arm)
                  for y in lf.latents)
    h, w, c = lf.image.shape
    head = Head(width=w, height=h, channels=c, seed=s.seed, l0=s.l0, levels=s.levels,
                syn_width=s.syn_width, syn_layers=s.syn_layers, syn_res=s.syn_res,
                arm_context=s.arm_context, arm_width=s.arm_width, arm_layers=s.arm_layers)
    groups = tuple(NetGroup(g.size, g.chunk, g.rank, e, t, qmax)
                   for g, e, (t, qmax) in zip(lf.groups, fitted.step_exps, models))
    return container.pack(FileV2(head, groups, entropy.encode(q, models), grids))


def encode_image(image: np.ndarray, s: LatentSettings, progress: bool = False) -> bytes:
    """The v2 file of a checked image at the settings' lambda."""
    return pack(fit(image, s, s.lam, progress))


def lam_for_bpp(bpp: float) -> float:
    """A first lambda for a target bpp, from LAMBDA_BPP."""
    lams, rates = (np.log([p[i] for p in LAMBDA_BPP]) for i in (0, 1))
    x = math.log(bpp)
    if x <= rates[0]:
        return float(np.exp(lams[0] + (x - rates[0]) / BPP_SLOPE))
    if x >= rates[-1]:
        return float(np.exp(lams[-1] + (x - rates[-1]) / BPP_SLOPE))
    return float(np.exp(np.interp(x, rates, lams)))


def _deadzone_search(fitted: Fitted, widen: Callable[[bytes], bool]) -> dict[float, bytes]:
    """Files packed over a bisection of the latent dead zone in 0 .. MAX_DEADZONE,
    widening while ``widen(file)`` holds (size and quality fall as it grows)."""
    files = {0.0: pack(fitted)}
    lo, hi = 0.0, MAX_DEADZONE
    if widen(files[0.0]):
        for _ in range(DEADZONE_SEARCH):
            mid = (lo + hi) / 2
            files[mid] = pack(fitted, mid)
            lo, hi = (mid, hi) if widen(files[mid]) else (lo, mid)
    return files


def _secant(lam: float, got: float, previous: tuple[float, float] | None, aim: float,
            slope: float, slopes: tuple[float, float]) -> float:
    """The next lambda: a secant step of ``got`` (log bpp or dB) against log lambda
    towards ``aim``, the slope measured from the previous (lambda, got) where there is
    one, else ``slope``; the slope is held within ``slopes``."""
    if previous and previous[1] != got and previous[0] != lam:
        slope = min(slopes[1], max(slopes[0], (got - previous[1]) / math.log(lam / previous[0])))
    return float(np.clip(lam * math.exp((aim - got) / slope), 1e-7, 1e2))


def encode_to_bpp(image: np.ndarray, s: LatentSettings, bpp: float,
                  progress: bool = False) -> bytes:
    """A file of about ``bpp`` bits per pixel.

    One fit at a lambda predicted to land a little above the target; while
    the file is below the target or far above it, short fine-tunes at a
    corrected lambda (secant steps on log bpp against log lambda); then a
    dead zone on the latents trims the file down to the target (a search
    over packings, no refit).
    """
    if not bpp > 0:
        raise ValueError(f"target bpp must be positive, got {bpp}")
    pixels = image.shape[0] * image.shape[1]
    target = bpp * pixels / 8
    lam = lam_for_bpp(bpp * AIM_ABOVE)
    fitted = fit(image, s, lam, progress)
    got = len(pack(fitted)) * 8 / pixels
    previous = None
    for _ in range(MAX_REFINES):
        if bpp * (1 - BPP_TOLERANCE) <= got <= bpp * MAX_TRIM:
            break
        previous, lam = (lam, math.log(got)), _secant(lam, math.log(got), previous,
                                                      math.log(bpp * AIM_ABOVE), REFINE_SLOPE,
                                                      (-2.0, -0.1))
        if progress:
            tqdm.write(f"rate control: {got:.4f} bpp, refining at lambda {lam:.3g}")
        fitted = finetune(fitted, lam, s.qat_fraction / 2, progress, refit_fraction=REFINE_FRACTION)
        got = len(pack(fitted)) * 8 / pixels
    files = _deadzone_search(fitted, lambda d: len(d) > target)
    data = min(files.values(), key=lambda d: abs(len(d) - target))
    reached = len(data) * 8 / pixels
    if abs(reached - bpp) > 0.05 * bpp:
        warnings.warn(RateNote(f"{bpp} bpp is out of reach; the nearest file is "
                               f"{reached:.4f} bpp"), stacklevel=3)
    return data


def _psnr_of(image: np.ndarray, data: bytes) -> float:
    return psnr(image, latent_decoder.decode(data))


def encode_to_psnr(image: np.ndarray, s: LatentSettings, target: float,
                   progress: bool = False) -> bytes:
    """The smallest file found that decodes at ``target`` dB or more, or the best reachable.

    One fit at the settings' lambda; while its file misses the target or
    clears it by more than PSNR_SLACK, short fine-tunes at corrected lambdas
    (secant steps on dB against log lambda, aiming PSNR_MARGIN above the
    target); then, on the smallest file that clears the target, the widest
    latent dead zone that still clears it (a search over packings, no refit).
    """
    if not 0 < target < math.inf:
        raise ValueError(f"target PSNR must be a positive number of dB, got {target}")
    lam, previous = s.lam, None
    fitted = fit(image, s, lam, progress)
    data = pack(fitted)
    tried = [(fitted, data, _psnr_of(image, data))]
    for _ in range(MAX_REFINES):
        got = tried[-1][2]
        if target <= got <= target + PSNR_SLACK:
            break
        previous, lam = (lam, got), _secant(lam, got, previous, target + PSNR_MARGIN,
                                            DB_PER_LOG_LAMBDA, (-8.0, -0.3))
        if progress:
            tqdm.write(f"rate control: {got:.2f} dB, refining at lambda {lam:.3g}")
        fitted = finetune(fitted, lam, s.qat_fraction / 2, progress, refit_fraction=REFINE_FRACTION)
        data = pack(fitted)
        tried.append((fitted, data, _psnr_of(image, data)))
    clearing = [t for t in tried if t[2] >= target]
    if not clearing:
        best = max(tried, key=lambda t: t[2])
        warnings.warn(RateNote(f"{target} dB is out of reach at this preset; the file decodes "
                               f"at {best[2]:.2f} dB"), stacklevel=3)
        return best[1]
    # finetune changes the fit in place: the chosen file is kept, as the dead
    # zone's packings of an earlier fit's object may be of a later state
    fitted, data, _ = min(clearing, key=lambda t: len(t[1]))
    clears = {}  # file -> whether it decodes at the target or more

    def widen(data: bytes) -> bool:
        clears[data] = _psnr_of(image, data) >= target
        return clears[data]

    files = _deadzone_search(fitted, widen)
    return min([data] + [d for d in files.values() if clears[d]], key=len)
