"""Coefficient groups and the seeded PRANC basis in numpy: theta = theta0 + B @ alpha.

The flat parameter vector is split into contiguous coefficient groups. A basis
group of ``n`` parameters is dealt into ``C = ceil(n / m)`` chunks by stride
(parameter ``p`` belongs to chunk ``p % C``), so one chunk spans many neurons.
Each chunk owns ``r`` coefficients, and parameter ``p`` of group ``g`` moves by

    scale_g * sum_j randn(key_g, p * r + j) * alpha_g[(p % C) * r + j].

The basis is a pure function of (seed, group index, n, r): chunking only
decides which coefficient each value multiplies, and nothing depends on the
device or on how the work is sliced. ``m = n`` (one chunk) is PRANC's dense
basis. A direct group has no basis: its stored values are added to theta0 as
they are. See docs/format.md for the normative description.

This module is all a decoder needs, and it needs no torch.
``basis.product`` is the torch path a fit uses (autograd, a basis cache,
the Triton kernels); the tests hold the two to the same values.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..kernels import philox_cpu

GOLDEN_GAMMA = 0x9E3779B97F4A7C15
# Basis values generated and multiplied at once: one pass of the numpy
# generator, so a piece is multiplied while still in cache.
SLICE_VALUES = philox_cpu.BLOCK
# From this many basis values a one-shot product generates them with the
# compiled kernel: its load time (0.3-1 s) is then below what it saves.
COMPILED_MIN_VALUES = 1 << 24


def stream_key(seed: int, index: int) -> int:
    """Philox key of stream ``index``: 0 draws theta0, g + 1 draws group g's basis."""
    return (seed + index * GOLDEN_GAMMA) % 2**64


@dataclass(frozen=True)
class Group:
    """One coefficient group: parameters [start, start + size) of the flat vector."""

    start: int
    size: int
    chunk: int = 0  # m; 0 marks a direct group
    rank: int = 0  # r, coefficients per chunk
    scale: float = 1.0  # basis scale, a float32 value
    signs: bool = False  # the v2 integer basis (+1/-1) instead of v1's normals

    @property
    def direct(self) -> bool:
        return self.chunk == 0

    @property
    def n_chunks(self) -> int:
        return 0 if self.direct else math.ceil(self.size / self.chunk)

    @property
    def n_coeffs(self) -> int:
        return self.size if self.direct else self.n_chunks * self.rank

    @property
    def n_basis_values(self) -> int:
        return 0 if self.direct else self.size * self.rank


def theta0(seed: int, bounds: np.ndarray) -> np.ndarray:
    """The seed's initial network: bounds * (2u - 1), u = rand(key_0, p), float32."""
    u = philox_cpu.rand(*philox_cpu.split_key(stream_key(seed, 0)), 0, bounds.size)
    return (u * 2.0 - 1.0) * bounds.astype(np.float32)


def basis_values(key: int, rank: int, p0: int, p1: int, compiled: bool = False,
                 threads: int = 1, signs: bool = False) -> np.ndarray:
    """Rows p0..p1-1 of a group's basis, (p1 - p0, rank), unscaled.

    float32 normals (v1), or int8 signs (v2) with ``signs``.
    """
    draw = philox_cpu.signs if signs else philox_cpu.randn
    values = draw(*philox_cpu.split_key(key), p0 * rank, (p1 - p0) * rank, threads, compiled)
    return values.reshape(p1 - p0, rank)


def segments(size: int, n_chunks: int, rank: int,
             budget: int | None = None) -> Iterator[tuple[int, int, int]]:
    """Split a group into pieces of at most ~budget basis values.

    Each piece is (p0, rows, length): parameters p0 .. p0 + rows*length - 1,
    seen as ``rows`` rows of ``length`` consecutive parameters that use the
    consecutive chunks p0 % C .. p0 % C + length - 1. Whole rows of C
    parameters when one fits the budget, pieces of a row otherwise.
    """
    full_rows = size // n_chunks
    per_piece = max(1, (budget or SLICE_VALUES) // rank)
    if n_chunks <= per_piece:
        rows = max(1, per_piece // n_chunks)
        for i in range(0, full_rows, rows):
            yield i * n_chunks, min(rows, full_rows - i), n_chunks
        ranges = [(full_rows * n_chunks, size)]
    else:
        ranges = [(i * n_chunks, (i + 1) * n_chunks) for i in range(full_rows)]
        ranges.append((full_rows * n_chunks, size))
    for start, stop in ranges:
        for p in range(start, stop, per_piece):
            yield p, 1, min(per_piece, stop - p)


def forward(group: Group, key: int, alpha: np.ndarray) -> np.ndarray:
    """scale * B @ alpha for one basis group and one coefficient vector, float32."""
    coeffs = alpha.astype(np.float32).reshape(group.n_chunks, group.rank)
    compiled = group.n_basis_values >= COMPILED_MIN_VALUES
    out = np.empty(group.size, dtype=np.float32)
    for p0, rows, length in segments(group.size, group.n_chunks, group.rank):
        p1 = p0 + rows * length
        values = basis_values(key, group.rank, p0, p1, compiled).reshape(rows, length, -1)
        c0 = p0 % group.n_chunks
        out[p0:p1] = np.einsum("icj,cj->ic", values, coeffs[c0:c0 + length]).reshape(-1)
    return out * np.float32(group.scale)


def theta(seed: int, groups: list[Group], bounds: np.ndarray,
          coeffs: list[np.ndarray]) -> np.ndarray:
    """The flat weights: theta0 plus every group's change (direct values as they are)."""
    deltas = [c.astype(np.float32) if g.direct else forward(g, stream_key(seed, i + 1), c)
              for i, (g, c) in enumerate(zip(groups, coeffs))]
    return theta0(seed, bounds) + np.concatenate(deltas)
