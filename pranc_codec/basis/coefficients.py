"""Uniform quantization and range coding of coefficient groups (both formats).

Each group's integers are coded with a discrete Laplace model,
P(q) proportional to theta**|q| on [-qmax, qmax], where theta = t / 65536 for
an integer t in the header. The decoder rebuilds the probability table from
(t, qmax) with IEEE multiplications only, so encoder and decoder agree on every
platform; constriction's range coder does the rest.
"""
from __future__ import annotations

import math

import constriction
import numpy as np

from ..errors import PrcFormatError

QMAX_LIMIT = 32767
LAPLACE_DENOM = 65536


def quant_step(values: np.ndarray, rel_step: float) -> float:
    """A group's quantization step: rel_step times the values' RMS, as float32."""
    rms = float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))) if values.size else 0.0
    return float(np.float32(max(rms, 1e-12) * rel_step))


def quantize(values: np.ndarray, step: float) -> np.ndarray:
    """Nearest multiples of step (ties to even), as int64 in [-QMAX_LIMIT, QMAX_LIMIT]."""
    scaled = values.astype(np.float32) / np.float32(step)
    return np.clip(np.rint(scaled), -QMAX_LIMIT, QMAX_LIMIT).astype(np.int64)


def dequantize(q: np.ndarray, step: float) -> np.ndarray:
    return q.astype(np.float32) * np.float32(step)


def laplace_probabilities(t: int, qmax: int) -> np.ndarray:
    """Unnormalised P(q) for q = -qmax..qmax, as the decoder computes it."""
    theta = t / LAPLACE_DENOM
    powers = np.cumprod(np.full(qmax, theta, dtype=np.float64))
    return np.concatenate([powers[::-1], [1.0], powers])


def cost_bits(t: int, qmax: int, count: int, abs_sum: int) -> float:
    """Ideal code length of `count` symbols with sum |q| = abs_sum under model t."""
    theta = t / LAPLACE_DENOM
    z = 1.0 + 2.0 * theta * (1.0 - theta**qmax) / (1.0 - theta)
    return (count * math.log(z) - abs_sum * math.log(theta)) / math.log(2.0)


def fit_laplace(q: np.ndarray) -> tuple[int, int]:
    """(t, qmax) minimising the code length of q; the cost is unimodal in t."""
    qmax = int(np.abs(q).max()) if q.size else 0
    if qmax == 0:
        return 1, 0
    count, abs_sum = q.size, int(np.abs(q).sum())
    lo, hi = 1, LAPLACE_DENOM - 1
    while hi - lo > 2:
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        if cost_bits(m1, qmax, count, abs_sum) <= cost_bits(m2, qmax, count, abs_sum):
            hi = m2
        else:
            lo = m1
    best = min(range(lo, hi + 1), key=lambda t: cost_bits(t, qmax, count, abs_sum))
    return best, qmax


def _model(t: int, qmax: int):
    return constriction.stream.model.Categorical(laplace_probabilities(t, qmax), perfect=False)


def encode(groups: list[np.ndarray], models: list[tuple[int, int]]) -> bytes:
    """Range-code every group's integers with its (t, qmax) model, in order."""
    encoder = constriction.stream.queue.RangeEncoder()
    for q, (t, qmax) in zip(groups, models):
        if qmax:
            encoder.encode((q + qmax).astype(np.int32), _model(t, qmax))
    return encoder.get_compressed().astype("<u4").tobytes()


def decode(payload: bytes, models: list[tuple[int, int]], counts: list[int]) -> list[np.ndarray]:
    """Inverse of encode, given each group's model and number of symbols."""
    if len(payload) % 4:
        raise PrcFormatError(f"payload length {len(payload)} is not a multiple of 4")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        out = []
        for (t, qmax), n in zip(models, counts):
            if qmax == 0:
                out.append(np.zeros(n, dtype=np.int64))
            else:
                out.append(decoder.decode(_model(t, qmax), n).astype(np.int64) - qmax)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic arrives as a BaseException
        raise PrcFormatError(f"payload cannot be range-decoded: {exc}") from None
    return out
