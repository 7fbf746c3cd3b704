"""Triton kernels for the chunked PRANC basis (see docs/format.md).

Basis value of parameter p and coefficient j: randn(key, p * r + j) in
format v1, or with SIGNS the v2 integer basis, +1/-1 from the top bit of
Philox word 0 at the same offset; p uses chunk p % C. Nothing of the basis's size is written to memory: every program
regenerates the values it needs with ``tl.randn`` and accumulates in
registers. The kernels are batched over V coefficient vectors.
"""
import triton
import triton.language as tl


@triton.jit
def basis_value(seed, offset, SIGNS: tl.constexpr):
    """B at these Philox offsets: a normal (v1) or a sign (v2)."""
    if SIGNS:
        return 1.0 - 2.0 * (tl.randint(seed, offset) >> 31).to(tl.float32)
    return tl.randn(seed, offset)


@triton.jit
def basis_forward_kernel(
    alpha_ptr, base_ptr, out_ptr, seed, size, n_chunks, rank, scale, n_vec,
    HAS_BASE: tl.constexpr, SIGNS: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_V: tl.constexpr,
):
    """out[v, p] = base[p] + scale * sum_j B[p, j] * alpha[v, (p % C) * r + j].

    A program owns BLOCK_P parameters for BLOCK_V vectors; each basis value
    is generated once and used for all of its vectors.
    """
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    v = tl.program_id(1) * BLOCK_V + tl.arange(0, BLOCK_V)
    mask_p = p < size
    mask = mask_p[:, None] & (v < n_vec)[None, :]
    p64 = p.to(tl.int64)
    n_coeffs = n_chunks * rank
    coeff = (p64 % n_chunks) * rank
    acc = tl.zeros((BLOCK_P, BLOCK_V), dtype=tl.float32)
    for j in range(0, rank):
        b = basis_value(seed, p64 * rank + j, SIGNS)
        a = tl.load(alpha_ptr + v[None, :].to(tl.int64) * n_coeffs + (coeff + j)[:, None],
                    mask=mask, other=0.0)
        acc += b[:, None] * a
    acc = acc * scale
    if HAS_BASE:
        acc += tl.load(base_ptr + p, mask=mask_p, other=0.0)[:, None]
    tl.store(out_ptr + v[None, :].to(tl.int64) * size + p64[:, None], acc, mask=mask)


@triton.jit
def basis_backward_kernel(
    grad_ptr, out_ptr, seed, size, n_chunks, rank, scale, n_rows, SIGNS: tl.constexpr,
    BLOCK_I: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_R: tl.constexpr,
):
    """out[v, c * r + j] = scale * sum_i B[i*C + c, j] * grad[v, i*C + c].

    A program owns BLOCK_C chunks x BLOCK_R coefficients of one vector and
    walks the rows i in a fixed order, so the reduction is deterministic.
    """
    c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    j = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    v = tl.program_id(2).to(tl.int64)
    mask_cj = (c < n_chunks)[:, None] & (j < rank)[None, :]
    acc = tl.zeros((BLOCK_C, BLOCK_R), dtype=tl.float32)
    for i0 in range(0, n_rows, BLOCK_I):
        i = i0 + tl.arange(0, BLOCK_I)
        p = i.to(tl.int64)[:, None] * n_chunks + c[None, :]  # (BLOCK_I, BLOCK_C)
        mask_p = (p < size) & (c < n_chunks)[None, :]
        g = tl.load(grad_ptr + v * size + p, mask=mask_p, other=0.0)
        b = basis_value(seed, p[:, :, None] * rank + j[None, None, :], SIGNS)
        acc += tl.sum(b * g[:, :, None], axis=0)
    out = out_ptr + v * (n_chunks * rank) + c[:, None].to(tl.int64) * rank + j[None, :]
    tl.store(out, acc * scale, mask=mask_cj)


@triton.jit
def basis_words_kernel(out_ptr, seed, size, rank, BLOCK_P: tl.constexpr, BLOCK_R: tl.constexpr):
    """Debug: the Philox words 0 and 1 behind B[p, j], as the forward kernel draws them."""
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    j = tl.arange(0, BLOCK_R)
    offs = p.to(tl.int64)[:, None] * rank + j[None, :]
    w0, w1, _, _ = tl.randint4x(seed, offs)
    mask = (p < size)[:, None] & (j < rank)[None, :]
    tl.store(out_ptr + 2 * offs, w0.to(tl.int64) & 0xFFFFFFFF, mask=mask)
    tl.store(out_ptr + 2 * offs + 1, w1.to(tl.int64) & 0xFFFFFFFF, mask=mask)
