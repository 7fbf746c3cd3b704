"""The torch path of theta = theta0 + B @ alpha: what a fit differentiates.

The basis and the groups are defined in ``basis.groups`` (numpy, the
decoder's half). Here the same product runs on torch tensors, with its
gradient, through one ``torch.autograd.Function`` and two backends: the
Triton kernels for CUDA tensors and a torch path that takes CPU basis values
from a cache or from the CPU generators a bounded piece at a time.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch

from . import philox
from .groups import COMPILED_MIN_VALUES, Group, segments, stream_key, theta0
from .groups import basis_values as cpu_basis_values


class BasisCache:
    """Whole groups' basis values, kept while they fit a byte budget (LRU)."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[int, int, int, bool], torch.Tensor] = OrderedDict()

    def get(self, key: int, size: int, rank: int, signs: bool = False) -> torch.Tensor | None:
        name = (key, size, rank, signs)
        entry = self._entries.get(name)
        if entry is not None:
            self._entries.move_to_end(name)
            return entry
        nbytes = size * rank * 4
        if nbytes > self.budget_bytes:
            return None
        while self._entries and self.used_bytes() + nbytes > self.budget_bytes:
            self._entries.popitem(last=False)
        # a fit reuses the basis thousands of times: the compiled kernel's load pays
        entry = basis_values(key, rank, 0, size, compiled=True, signs=signs)
        self._entries[name] = entry
        return entry

    def used_bytes(self) -> int:
        return sum(v.numel() * 4 for v in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


CACHE = BasisCache(int(os.environ.get("PRANC_BASIS_CACHE_MB", "512")) << 20)


def basis_values(key: int, rank: int, p0: int, p1: int, device: torch.device | str = "cpu",
                 compiled: bool = False, signs: bool = False) -> torch.Tensor:
    """Rows p0..p1-1 of a group's basis as a (p1 - p0, rank) float32 tensor, unscaled.

    ``compiled`` takes CPU values from the numba kernel; otherwise the pure-torch
    generator makes them, on any device. ``signs``: the v2 sign basis.
    """
    if compiled and torch.device(device).type == "cpu":
        values = cpu_basis_values(key, rank, p0, p1, True, torch.get_num_threads(), signs)
        return torch.from_numpy(values.astype(np.float32, copy=False))
    offsets = torch.arange(p0 * rank, p1 * rank, dtype=torch.int64, device=device)
    draw = philox.signs if signs else philox.randn
    return draw(key, offsets).view(p1 - p0, rank)


def _pieces(group: Group, key: int, cache: bool, device: torch.device):
    """(p0, c0, values as (rows, length, rank)) covering the group.

    Values come from the cache when the group fits it, else are generated
    one bounded piece at a time (compiled when the basis is reused or huge).
    """
    whole = (CACHE.get(key, group.size, group.rank, group.signs)
             if cache and device.type == "cpu" else None)
    compiled = cache or group.n_basis_values >= COMPILED_MIN_VALUES
    # Cached values are multiplied in the same bounded pieces: one einsum over a
    # whole large group measured 2-5x slower for the gradient.
    for p0, rows, length in segments(group.size, group.n_chunks, group.rank):
        p1 = p0 + rows * length
        values = (whole[p0:p1] if whole is not None
                  else basis_values(key, group.rank, p0, p1, device, compiled, group.signs))
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
    from ..kernels import launch  # imported on first use: triton is only needed here

    out = launch.forward(alpha.reshape(-1, group.n_coeffs), group.size, group.n_chunks,
                         group.rank, group.scale, key, signs=group.signs)
    return out.view(*alpha.shape[:-1], group.size)


def triton_backward(group: Group, key: int, grad: torch.Tensor) -> torch.Tensor:
    from ..kernels import launch

    out = launch.backward(grad.reshape(-1, group.size), group.size, group.n_chunks,
                          group.rank, group.scale, key, signs=group.signs)
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

    def __init__(self, seed: int, groups: list[Group], bounds: np.ndarray):
        pos = 0
        for g in groups:
            if g.start != pos:
                raise ValueError("groups must tile the parameter vector in order")
            pos += g.size
        if pos != bounds.size:
            raise ValueError(f"groups cover {pos} parameters, the network has {bounds.size}")
        self.seed = seed
        self.groups = groups
        self.theta0 = torch.from_numpy(theta0(seed, bounds))

    def key(self, index: int) -> int:
        return stream_key(self.seed, index + 1)

    def theta(self, coeffs: list[torch.Tensor]) -> torch.Tensor:
        deltas = [
            c if g.direct else BasisProduct.apply(c, g, self.key(i), True)
            for i, (g, c) in enumerate(zip(self.groups, coeffs))
        ]
        return self.theta0 + torch.cat(deltas)
