"""Format v1's rate control: a target bits per pixel or PSNR, by choosing k and the quantization.

``--bpp``: k is predicted from the target, one fit runs, and a search over a
common scale of every group's quantization step lands the file on the target
size; quantization-aware fine-tuning then runs at that step. ``--psnr``: fits
with more coefficients until the unquantized fit clears the target, then
takes the coarsest quantization that still reaches it. Where a target cannot
be met, the nearest file is written and a RateNote warning says so.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from ..errors import RateNote
from . import bitstream
from .encoder import Fitted, finetune, fit, pack
from .inr import Siren
from .settings import Settings, plan_groups

# Starting guess of a coefficient's bits: the entropy of a Laplace variable
# quantized with step rel_step * RMS is about log2(e * sqrt(2) / rel_step),
# plus the model's overhead (Kodak fits at rel_step 0.3 spent 3.9 to 4.6 bits).
# The step search corrects the guess.
LAPLACE_BITS = math.log2(math.e * math.sqrt(2.0))
MODEL_OVERHEAD_BITS = 0.3
BITS_PER_DIRECT = 6.0
BPP_TOLERANCE = 0.02  # aimed for; 5 % is promised, fine-tuning may move the size a little
SCALES = (1 / 64, 64)  # range of the step scale searched
SEARCH_ITERATIONS = 14
# --psnr: margin above the target the unquantized fit must clear, the dB a
# doubling of k was seen to add (on Kodak, 0.6 to 1.2), and the number of fits.
PSNR_MARGIN = 0.3
DB_PER_DOUBLING = 0.8
MAX_FITS = 4


def k_limit(image: np.ndarray, s: Settings) -> int:
    """The most coefficients worth fitting: one per parameter of the basis groups."""
    net = Siren(s.width, s.depth, image.shape[2], s.w0)
    return sum(g.size for g in plan_groups(net, s) if not g.direct)


def k_for_bits(image: np.ndarray, s: Settings, bits: float) -> int:
    """The k whose file should come closest to ``bits`` at the settings' rel_step."""
    net = Siren(s.width, s.depth, image.shape[2], s.w0)
    groups = plan_groups(net, s)
    fixed = 8 * bitstream.overhead_bytes(len(groups)) \
        + BITS_PER_DIRECT * sum(g.size for g in groups if g.direct)
    per_coeff = max(1.0, LAPLACE_BITS - math.log2(s.rel_step) + MODEL_OVERHEAD_BITS)
    return int(np.clip(round((bits - fixed) / per_coeff), 1, k_limit(image, s)))


def _bisect(good, lo: float, hi: float) -> float:
    """The largest x in [lo, hi] (log scale) with good(x), given good(lo); lo if none above."""
    for _ in range(SEARCH_ITERATIONS):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if good(mid) else (lo, mid)
    return lo


def _nearest_size(fitted: Fitted, target_bytes: float) -> tuple[float, bytes]:
    """The step scale, and its file, whose size is nearest target_bytes."""
    size = {}

    def small_enough(scale: float) -> bool:  # coarser steps, fewer bytes
        size[scale] = pack(fitted, fitted.steps(scale))
        return len(size[scale]) <= target_bytes

    lo, hi = SCALES
    # the size falls as the scale grows: search for the finest scale that fits;
    # the sizes seen on both sides of it are kept, and the nearest wins
    if not small_enough(lo):
        _bisect(lambda inv: small_enough(1.0 / inv), 1.0 / hi, 1.0 / lo)
    near = min(size, key=lambda sc: abs(len(size[sc]) - target_bytes))
    return near, size[near]


def encode_to_bpp(image: np.ndarray, s: Settings, bpp: float, progress: bool = False) -> bytes:
    """A file of about ``bpp`` bits per pixel (within 5 % where the codec can reach it)."""
    if not bpp > 0:
        raise ValueError(f"target bpp must be positive, got {bpp}")
    pixels = image.shape[0] * image.shape[1]
    target = bpp * pixels / 8
    k = k_for_bits(image, s, bpp * pixels)
    if progress:
        tqdm.write(f"rate control: {bpp} bpp -> k = {k}")
    fitted = fit(image, replace(s, k=k), progress)
    scale, _ = _nearest_size(fitted, target)
    qsteps = fitted.steps(scale)
    tuned = finetune(fitted, qsteps, progress)
    data = pack(tuned, qsteps)
    if abs(len(data) - target) > BPP_TOLERANCE * target:
        # fine-tuning moved the coefficients enough to change the size: requantize
        _, data = _nearest_size(tuned, target)
    reached = len(data) * 8 / pixels
    if abs(reached - bpp) > 0.05 * bpp:
        hint = (" (k is at this network's limit; a larger --width can use more bits)"
                if k == k_limit(image, s) else "")
        warnings.warn(RateNote(f"{bpp} bpp is out of reach; the nearest file is "
                               f"{reached:.4f} bpp{hint}"), stacklevel=3)
    return data


def encode_to_psnr(image: np.ndarray, s: Settings, target: float,
                   progress: bool = False) -> bytes:
    """The smallest file found that decodes at ``target`` dB or more, or the best reachable."""
    if not 0 < target < math.inf:
        raise ValueError(f"target PSNR must be a positive number of dB, got {target}")
    limit, k = k_limit(image, s), min(s.k, k_limit(image, s))
    for attempt in range(MAX_FITS):
        fitted = fit(image, replace(s, k=k), progress)
        unquantized = fitted.psnr()
        if unquantized >= target + PSNR_MARGIN or k >= limit or attempt == MAX_FITS - 1:
            break
        doublings = max(1.0, (target + PSNR_MARGIN - unquantized) / DB_PER_DOUBLING)
        k = min(limit, int(k * 2**doublings))
        if progress:
            tqdm.write(f"rate control: {unquantized:.2f} dB < {target} dB, refitting at k = {k}")
    lo, hi = SCALES
    if fitted.psnr(fitted.steps(lo)) >= target:
        scale = _bisect(lambda sc: fitted.psnr(fitted.steps(sc)) >= target, lo, hi)
    else:
        scale = lo
    qsteps = fitted.steps(scale)
    tuned = finetune(fitted, qsteps, progress)
    reached = tuned.psnr(qsteps)
    if reached < target:
        warnings.warn(RateNote(f"{target} dB is out of reach at k = {k}; the file decodes "
                               f"at {reached:.2f} dB"), stacklevel=3)
    return pack(tuned, qsteps)
