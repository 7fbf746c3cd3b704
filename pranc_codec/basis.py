"""Coefficient groups and the seeded PRANC basis: theta = theta0 + B @ alpha.

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
"""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass

import torch

from . import philox

GOLDEN_GAMMA = 0x9E3779B97F4A7C15
# Generated basis values held at once when the group is not cached.
SLICE_VALUES = 1 << 20


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


def theta0(seed: int, bounds: torch.Tensor) -> torch.Tensor:
    """The seed's initial network: bounds * (2u - 1), u = rand(key_0, p)."""
    u = philox.rand(stream_key(seed, 0), torch.arange(bounds.numel(), dtype=torch.int64))
    return (u * 2.0 - 1.0) * bounds


def basis_values(key: int, rank: int, p0: int, p1: int) -> torch.Tensor:
    """Rows p0..p1-1 of a group's basis, (p1 - p0, rank) float32, unscaled."""
    offsets = torch.arange(p0 * rank, p1 * rank, dtype=torch.int64)
    return philox.randn(key, offsets).view(p1 - p0, rank)


class BasisCache:
    """Whole groups' basis values, kept while they fit a byte budget (LRU)."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[int, int, int], torch.Tensor] = OrderedDict()

    def get(self, key: int, size: int, rank: int) -> torch.Tensor | None:
        entry = self._entries.get((key, size, rank))
        if entry is not None:
            self._entries.move_to_end((key, size, rank))
            return entry
        nbytes = size * rank * 4
        if nbytes > self.budget_bytes:
            return None
        while self._entries and self.used_bytes() + nbytes > self.budget_bytes:
            self._entries.popitem(last=False)
        entry = basis_values(key, rank, 0, size)
        self._entries[(key, size, rank)] = entry
        return entry

    def used_bytes(self) -> int:
        return sum(v.numel() * 4 for v in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


CACHE = BasisCache(int(os.environ.get("PRANC_BASIS_CACHE_MB", "512")) << 20)


def _slices(group: Group, key: int, cache: bool):
    """(p0, p1, values) covering the group, never more than SLICE_VALUES at once
    unless the whole group is (or, with ``cache``, can be) held in the cache."""
    cached = CACHE.get(key, group.size, group.rank) if cache else None
    if cached is not None:
        yield 0, group.size, cached
        return
    step = max(1, SLICE_VALUES // group.rank)
    for p0 in range(0, group.size, step):
        p1 = min(group.size, p0 + step)
        yield p0, p1, basis_values(key, group.rank, p0, p1)


def basis_forward(group: Group, key: int, alpha: torch.Tensor, cache: bool = True) -> torch.Tensor:
    """scale * B @ alpha for one basis group: the change to its parameters."""
    coeffs = alpha.view(group.n_chunks, group.rank)
    out = torch.empty(group.size, dtype=torch.float32)
    for p0, p1, values in _slices(group, key, cache):
        if group.n_chunks == 1:
            out[p0:p1] = values @ coeffs[0]
        else:
            chunk = torch.arange(p0, p1) % group.n_chunks
            out[p0:p1] = (values * coeffs[chunk]).sum(1)
    return out * group.scale


def basis_backward(group: Group, key: int, grad_theta: torch.Tensor,
                   cache: bool = True) -> torch.Tensor:
    """scale * B^T @ grad_theta for one basis group: the gradient of its alpha."""
    grad = grad_theta.to(torch.float32) * group.scale
    out = torch.zeros(group.n_chunks, group.rank, dtype=torch.float32)
    for p0, p1, values in _slices(group, key, cache):
        if group.n_chunks == 1:
            out[0] += values.T @ grad[p0:p1]
        else:
            chunk = torch.arange(p0, p1) % group.n_chunks
            out.index_add_(0, chunk, values * grad[p0:p1, None])
    return out.view(-1)


class BasisProduct(torch.autograd.Function):
    """alpha -> scale * B @ alpha, with the basis regenerated, never stored whole."""

    @staticmethod
    def forward(ctx, alpha: torch.Tensor, group: Group, key: int, cache: bool) -> torch.Tensor:
        ctx.group, ctx.key, ctx.cache = group, key, cache
        return basis_forward(group, key, alpha.detach(), cache)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return basis_backward(ctx.group, ctx.key, grad, ctx.cache), None, None, None


class Reparam:
    """Maps every group's coefficients (or direct values) to the flat theta."""

    def __init__(self, seed: int, groups: list[Group], bounds: torch.Tensor, cache: bool = True):
        pos = 0
        for g in groups:
            if g.start != pos:
                raise ValueError("groups must tile the parameter vector in order")
            pos += g.size
        if pos != bounds.numel():
            raise ValueError(f"groups cover {pos} parameters, the network has {bounds.numel()}")
        self.seed = seed
        self.groups = groups
        self.cache = cache  # a fit reuses the basis thousands of times; a decode once
        self.theta0 = theta0(seed, bounds)

    def key(self, index: int) -> int:
        return stream_key(self.seed, index + 1)

    def theta(self, coeffs: list[torch.Tensor]) -> torch.Tensor:
        deltas = [
            c if g.direct else BasisProduct.apply(c, g, self.key(i), self.cache)
            for i, (g, c) in enumerate(zip(self.groups, coeffs))
        ]
        return self.theta0 + torch.cat(deltas)
