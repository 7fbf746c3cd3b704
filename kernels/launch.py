"""Launchers for the basis kernels: block sizes, grids, batching.

In Triton's CPU interpreter (TRITON_INTERPRET=1) every program costs
milliseconds whatever its size, so the blocks are large and the grids small;
on a GPU the block sizes are autotuned per problem shape.
"""
from __future__ import annotations

import math
import os

import torch
import triton

from .basis_kernels import basis_backward_kernel, basis_forward_kernel, basis_words_kernel

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


def _pow2(n: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, triton.next_power_of_2(max(1, n))))


_FORWARD_TUNED = triton.autotune(
    configs=[triton.Config({"BLOCK_P": p, "BLOCK_V": v}, num_warps=w)
             for p, v, w in [(128, 1, 4), (256, 1, 4), (512, 1, 8), (128, 4, 4), (256, 8, 8)]],
    key=["size", "rank", "n_vec", "SIGNS"],
)(basis_forward_kernel)

_BACKWARD_TUNED = triton.autotune(
    configs=[triton.Config({"BLOCK_I": i, "BLOCK_C": c, "BLOCK_R": r}, num_warps=w)
             for i, c, r, w in [(1, 64, 16, 4), (4, 32, 16, 4), (16, 8, 8, 4),
                                (64, 1, 16, 4), (128, 1, 32, 8), (8, 64, 4, 4)]],
    key=["size", "n_chunks", "rank", "SIGNS"],
)(basis_backward_kernel)


def forward(alpha: torch.Tensor, size: int, n_chunks: int, rank: int, scale: float, key: int,
            base: torch.Tensor | None = None, signs: bool = False) -> torch.Tensor:
    """(V, size) = base + scale * B @ alpha for alpha of shape (V, n_chunks * rank).

    ``signs`` selects the v2 sign basis instead of v1's normals.
    """
    alpha = alpha.to(torch.float32).contiguous()
    n_vec = alpha.shape[0]
    out = torch.empty(n_vec, size, dtype=torch.float32, device=alpha.device)
    has_base = base is not None
    base = base.to(torch.float32).contiguous() if has_base else out  # unread without a base
    args = (alpha, base, out, key, size, n_chunks, rank, scale, n_vec, has_base, signs)
    if INTERPRET:
        block_p, block_v = _pow2(size, 16, 8192), _pow2(n_vec, 1, 16)
        grid = (triton.cdiv(size, block_p), triton.cdiv(n_vec, block_v))
        basis_forward_kernel[grid](*args, BLOCK_P=block_p, BLOCK_V=block_v)
    else:
        _FORWARD_TUNED[lambda m: (triton.cdiv(size, m["BLOCK_P"]),
                                  triton.cdiv(n_vec, m["BLOCK_V"]))](*args)
    return out


def backward(grad: torch.Tensor, size: int, n_chunks: int, rank: int, scale: float,
             key: int, signs: bool = False) -> torch.Tensor:
    """(V, n_chunks * rank) = scale * B^T @ grad for grad of shape (V, size)."""
    grad = grad.to(torch.float32).contiguous()
    n_vec = grad.shape[0]
    n_rows = math.ceil(size / n_chunks)
    out = torch.empty(n_vec, n_chunks * rank, dtype=torch.float32, device=grad.device)
    args = (grad, out, key, size, n_chunks, rank, scale, n_rows, signs)
    if INTERPRET:
        block_c, block_r = _pow2(n_chunks, 1, 256), _pow2(rank, 1, 64)
        block_i = _pow2(n_rows, 1, max(1, (1 << 16) // (block_c * block_r)))
        grid = (triton.cdiv(n_chunks, block_c), triton.cdiv(rank, block_r), n_vec)
        basis_backward_kernel[grid](*args, BLOCK_I=block_i, BLOCK_C=block_c, BLOCK_R=block_r)
    else:
        _BACKWARD_TUNED[lambda m: (triton.cdiv(n_chunks, m["BLOCK_C"]),
                                   triton.cdiv(rank, m["BLOCK_R"]), n_vec)](*args)
    return out


def basis_words(size: int, rank: int, key: int, device: str = "cpu") -> torch.Tensor:
    """(size, rank, 2) Philox words 0 and 1 behind every basis value (for tests)."""
    out = torch.zeros(size * rank * 2, dtype=torch.int64, device=device)
    block_p, block_r = _pow2(size, 16, 4096), _pow2(rank, 1, 1024)
    basis_words_kernel[(triton.cdiv(size, block_p),)](out, key, size, rank,
                                                      BLOCK_P=block_p, BLOCK_R=block_r)
    return out.view(size, rank, 2)
