"""Bjontegaard deltas between two rate-distortion curves.

Both curves are interpolated piecewise-cubically (PCHIP, monotone, as in the
later JVET/AOM recommendations rather than Bjontegaard's original cubic fit)
and integrated exactly over the range where they overlap:

- BD-rate: the mean difference of log-rate over the common quality range,
  as a percentage (negative: the test curve needs fewer bits for the same
  quality);
- BD-quality (BD-PSNR for PSNR): the mean quality difference over the
  common log-rate range (positive: the test curve is better at the same rate).

Either is None when the curves do not overlap.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator


def _mean_over(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    antiderivative = PchipInterpolator(x, y).antiderivative()
    return float(antiderivative(hi) - antiderivative(lo)) / (hi - lo)


def _curve(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by x, ties averaged, non-finite points dropped."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    xs, inverse = np.unique(x[keep], return_inverse=True)
    ys = np.bincount(inverse, weights=y[keep]) / np.bincount(inverse)
    return xs, ys


def _delta(x_ref, y_ref, x_test, y_test) -> float | None:
    """Mean of y_test - y_ref over the overlap of the x ranges."""
    xr, yr = _curve(x_ref, y_ref)
    xt, yt = _curve(x_test, y_test)
    if len(xr) < 2 or len(xt) < 2:
        return None
    lo, hi = max(xr[0], xt[0]), min(xr[-1], xt[-1])
    if not hi > lo:
        return None
    return _mean_over(xt, yt, lo, hi) - _mean_over(xr, yr, lo, hi)


def bd_rate(rate_ref: Sequence[float], quality_ref: Sequence[float],
            rate_test: Sequence[float], quality_test: Sequence[float]) -> float | None:
    """Average rate change of test against ref at equal quality, in percent."""
    d = _delta(quality_ref, np.log(rate_ref), quality_test, np.log(rate_test))
    return None if d is None else (math.exp(d) - 1.0) * 100.0


def bd_quality(rate_ref: Sequence[float], quality_ref: Sequence[float],
               rate_test: Sequence[float], quality_test: Sequence[float]) -> float | None:
    """Average quality change of test against ref at equal rate (dB for PSNR)."""
    return _delta(np.log(rate_ref), quality_ref, np.log(rate_test), quality_test)


def overlap(quality_ref: Sequence[float], quality_test: Sequence[float]) -> tuple[float, float] | None:
    """The quality range BD-rate averages over, or None."""
    lo = max(min(quality_ref), min(quality_test))
    hi = min(max(quality_ref), max(quality_test))
    return (lo, hi) if hi > lo else None
