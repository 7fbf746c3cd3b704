"""Format v2's network weights in integers: theta = theta0 + B @ a, exact on every platform.

Every v2 weight is an integer times 2^-WEIGHT_FRAC. theta0 draws one byte
per parameter from Philox (stream 0) and scales it by a power of two fixed
by the layer; the basis is +1/-1 signs (Philox word 0's top bit, stream
g + 1 for group g, chunked as in v1); a group's coefficients are integers q
times 2^step_exp. The sum is accumulated in int64, so the entropy model,
which runs in fixed point on these integers, is bit-identical wherever it
runs. Numpy only: this is the decoder's half; ``basis.product`` is the
torch path a fit differentiates (the tests hold the two to the same values).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import philox_cpu
from .groups import Group, basis_values, segments, stream_key

WEIGHT_FRAC = 16  # weights are integers times 2^-16
THETA0_BITS = 8  # theta0 = (byte - 128) * 2^(init_exp - 7)
MIN_INIT_EXP = THETA0_BITS - 1 - WEIGHT_FRAC  # smallest init exponent theta0 can carry
MIN_STEP_EXP, MAX_STEP_EXP = -WEIGHT_FRAC, 4


def init_exp(fan_in: int) -> int:
    """Exponent of a layer's init half-width: 2^-ceil(log2(fan_in) / 2), about 1/sqrt(fan_in)."""
    return max(MIN_INIT_EXP, -(((fan_in - 1).bit_length() + 1) // 2))


@dataclass(frozen=True)
class IntGroup:
    """One coefficient group of the flat vector, with its power-of-two step."""

    start: int
    size: int
    chunk: int = 0  # m; 0 marks a direct group
    rank: int = 0
    step_exp: int = 0

    @property
    def basis(self) -> Group:
        """The same group as the shared basis code sees it (sign basis, unit scale)."""
        return Group(self.start, self.size, self.chunk, self.rank, 1.0, signs=True)

    @property
    def n_coeffs(self) -> int:
        return self.basis.n_coeffs


def theta0_int(seed: int, exps: np.ndarray) -> np.ndarray:
    """theta0 as int64 multiples of 2^-WEIGHT_FRAC, for per-parameter init exponents."""
    raw = philox_cpu.bytes0(*philox_cpu.split_key(stream_key(seed, 0)), 0, exps.size) - 128
    return raw << (exps.astype(np.int64) - MIN_INIT_EXP)


def delta_int(group: IntGroup, key: int, q: np.ndarray) -> np.ndarray:
    """The group's change to theta, int64 multiples of 2^-WEIGHT_FRAC."""
    shift = group.step_exp + WEIGHT_FRAC
    q = q.astype(np.int64)
    if group.chunk == 0:
        return q << shift
    g = group.basis
    coeffs = q.reshape(g.n_chunks, g.rank)
    out = np.empty(g.size, dtype=np.int64)
    for p0, rows, length in segments(g.size, g.n_chunks, g.rank):
        p1 = p0 + rows * length
        signs = basis_values(key, g.rank, p0, p1, signs=True).astype(np.int64)
        c0 = p0 % g.n_chunks
        out[p0:p1] = np.einsum("icj,cj->ic", signs.reshape(rows, length, -1),
                               coeffs[c0:c0 + length]).reshape(-1)
    return out << shift


def theta_int(seed: int, groups: list[IntGroup], exps: np.ndarray,
              coeffs: list[np.ndarray]) -> np.ndarray:
    """The whole flat weight vector, int64 multiples of 2^-WEIGHT_FRAC."""
    deltas = [delta_int(g, stream_key(seed, i + 1), q) for i, (g, q) in enumerate(zip(groups, coeffs))]
    return theta0_int(seed, exps) + (np.concatenate(deltas) if deltas else 0)


def to_float(theta: np.ndarray) -> np.ndarray:
    """Integer weights as float32 (exact below 2^24 in magnitude)."""
    return theta.astype(np.float32) * np.float32(2.0**-WEIGHT_FRAC)


def plan(sizes: list[int], coeff_ratio: float, chunk: int, min_basis: int) -> list[IntGroup]:
    """One group per layer: direct below min_basis parameters, else chunked with
    about coeff_ratio coefficients per parameter (r = round(ratio * m), 1..m)."""
    out, start = [], 0
    for n in sizes:
        if n < min_basis or coeff_ratio >= 1:
            out.append(IntGroup(start, n))
        else:
            m = min(chunk, n)
            out.append(IntGroup(start, n, m, max(1, min(m, round(coeff_ratio * m)))))
        start += n
    return out
