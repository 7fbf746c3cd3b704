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
# A group this large is generated with the compiled kernel even when it is
# used once (a decode): above it the kernel's speed outweighs its load time.
COMPILED_MIN_VALUES = 1 << 26
# Generated basis values held at once when the group is not cached: as many
# as philox generates per pass, so a piece is multiplied while still in cache.
SLICE_VALUES = philox.BLOCK


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


def basis_values(key: int, rank: int, p0: int, p1: int,
                 device: torch.device | str = "cpu", compiled: bool = False) -> torch.Tensor:
    """Rows p0..p1-1 of a group's basis, (p1 - p0, rank) float32, unscaled.

    ``compiled`` generates them on the CPU with the numba kernel (2-3x the
    torch reference's speed, the same values). Its import and load cost about
    1.5 s once per process, so callers ask for it only when the basis is
    generated many times (a fit) or is very large.
    """
    if compiled and torch.device(device).type == "cpu":
        from .kernels import philox_cpu  # deferred: numba's import is the 1.5 s

        values = philox_cpu.randn(*philox.split_key(key), p0 * rank, (p1 - p0) * rank,
                                  torch.get_num_threads())
        return torch.from_numpy(values).view(p1 - p0, rank)
    offsets = torch.arange(p0 * rank, p1 * rank, dtype=torch.int64, device=device)
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
        entry = basis_values(key, rank, 0, size, compiled=True)
        self._entries[(key, size, rank)] = entry
        return entry

    def used_bytes(self) -> int:
        return sum(v.numel() * 4 for v in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


CACHE = BasisCache(int(os.environ.get("PRANC_BASIS_CACHE_MB", "512")) << 20)


def segments(size: int, n_chunks: int, rank: int, budget: int | None = None):
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


def _pieces(group: Group, key: int, cache: bool, device: torch.device):
    """(p0, c0, values as (rows, length, rank)) covering the group.

    Values come from the cache when the group fits it, else are generated
    one bounded piece at a time (compiled when the basis is reused or huge).
    """
    whole = CACHE.get(key, group.size, group.rank) if cache and device.type == "cpu" else None
    compiled = cache or group.n_basis_values >= COMPILED_MIN_VALUES
    # Cached values are multiplied in the same bounded pieces: one einsum over a
    # whole large group measured 2-5x slower for the gradient.
    for p0, rows, length in segments(group.size, group.n_chunks, group.rank):
        p1 = p0 + rows * length
        values = (whole[p0:p1] if whole is not None
                  else basis_values(key, group.rank, p0, p1, device, compiled))
        yield p0, p0 % group.n_chunks, values.view(rows, length, group.rank)


def basis_forward(group: Group, key: int, alpha: torch.Tensor, cache: bool = True) -> torch.Tensor:
    """scale * B @ alpha for one basis group, alpha of shape (..., n_coeffs).

    The torch path; returns (..., size), the change to the group's parameters.
    """
    coeffs = alpha.to(torch.float32).reshape(-1, group.n_chunks, group.rank)
    out = torch.empty(coeffs.shape[0], group.size, dtype=torch.float32, device=alpha.device)
    for p0, c0, values in _pieces(group, key, cache, alpha.device):
        rows, length, _ = values.shape
        part = torch.einsum("icj,vcj->vic", values, coeffs[:, c0:c0 + length])
        out[:, p0:p0 + rows * length] = part.reshape(coeffs.shape[0], -1)
    return (out * group.scale).view(*alpha.shape[:-1], group.size)


def basis_backward(group: Group, key: int, grad_theta: torch.Tensor,
                   cache: bool = True) -> torch.Tensor:
    """scale * B^T @ grad_theta for grad_theta of shape (..., size): the torch path."""
    grad = grad_theta.to(torch.float32).reshape(-1, group.size) * group.scale
    out = torch.zeros(grad.shape[0], group.n_chunks, group.rank, dtype=torch.float32,
                      device=grad.device)
    for p0, c0, values in _pieces(group, key, cache, grad.device):
        rows, length, _ = values.shape
        g = grad[:, p0:p0 + rows * length].view(-1, rows, length)
        out[:, c0:c0 + length] += torch.einsum("icj,vic->vcj", values, g)
    return out.view(*grad_theta.shape[:-1], group.n_coeffs)


BACKENDS = ("torch", "triton")


def backend_for(tensor: torch.Tensor) -> str:
    """Triton for CUDA tensors, torch otherwise; PRANC_BACKEND=torch|triton overrides."""
    forced = os.environ.get("PRANC_BACKEND")
    if forced:
        if forced not in BACKENDS:
            raise ValueError(f"PRANC_BACKEND={forced!r}; use one of {', '.join(BACKENDS)}")
        return forced
    return "triton" if tensor.is_cuda else "torch"


def triton_forward(group: Group, key: int, alpha: torch.Tensor) -> torch.Tensor:
    from .kernels import launch  # imported on first use: triton is only needed here

    out = launch.forward(alpha.reshape(-1, group.n_coeffs), group.size, group.n_chunks,
                         group.rank, group.scale, key)
    return out.view(*alpha.shape[:-1], group.size)


def triton_backward(group: Group, key: int, grad: torch.Tensor) -> torch.Tensor:
    from .kernels import launch

    out = launch.backward(grad.reshape(-1, group.size), group.size, group.n_chunks,
                          group.rank, group.scale, key)
    return out.view(*grad.shape[:-1], group.n_coeffs)


class BasisProduct(torch.autograd.Function):
    """alpha -> scale * B @ alpha, with the basis regenerated, never stored whole.

    alpha may hold several coefficient vectors (..., n_coeffs). The backend
    follows the tensor's device (see backend_for); both compute the same
    basis, so a file encoded with one decodes with the other.
    """

    @staticmethod
    def forward(ctx, alpha: torch.Tensor, group: Group, key: int, cache: bool) -> torch.Tensor:
        ctx.group, ctx.key, ctx.cache = group, key, cache
        ctx.triton = backend_for(alpha) == "triton"  # the gradient uses the same backend
        if ctx.triton:
            return triton_forward(group, key, alpha.detach())
        return basis_forward(group, key, alpha.detach(), cache)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if ctx.triton:
            return triton_backward(ctx.group, ctx.key, grad), None, None, None
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
