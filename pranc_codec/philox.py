"""Philox4x32-10 and the normal/uniform variates Triton derives from it, in torch.

Triton's ``tl.randint4x(seed, offset)`` runs Philox4x32-10 on the counter
``(offset_lo, offset_hi, 0, 0)`` with key ``(seed_lo, seed_hi)``; ``tl.randn``
turns words 0 and 1 into uniforms and applies one Box-Muller branch. Reproducing
that here with int64 tensors (32-bit words, products masked back to 32 bits)
makes the CPU path generate the same basis as a GPU kernel, bit for bit in the
integer stage. The float stage uses the same float32 operations in the same
order, so values agree to within the last-ulp differences of log/cos.
"""
from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
ROUND_A = 0xD2511F53  # multiplies word 0
ROUND_B = 0xCD9E8D57  # multiplies word 2
KEY_A = 0x9E3779B9
KEY_B = 0xBB67AE85
ROUNDS = 10

# float32 constants exactly as Triton spells them (rounded to float32 there too)
_UNIFORM_SCALE = torch.tensor(4.6566127342e-10, dtype=torch.float32)
_TWO_PI = torch.tensor(6.283185307179586, dtype=torch.float32)
_U_MIN = torch.tensor(1.0e-7, dtype=torch.float32)


def split_key(seed: int) -> tuple[int, int]:
    """The 64-bit Philox key as (low word, high word)."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"Philox seed must be in [0, 2**64), got {seed}")
    return seed & MASK32, seed >> 32


def philox4x32(
    c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor, c3: torch.Tensor,
    k0: int, k1: int, rounds: int = ROUNDS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Philox4x32 block function on int64 tensors holding uint32 words.

    The int64 product of two 32-bit words wraps modulo 2**64, so its low and
    high 32 bits are still the exact unsigned 64-bit product's.
    """
    for _ in range(rounds):
        prod_a = c0 * ROUND_A
        prod_b = c2 * ROUND_B
        c0, c1, c2, c3 = (
            ((prod_b >> 32) & MASK32) ^ c1 ^ k0,
            prod_b & MASK32,
            ((prod_a >> 32) & MASK32) ^ c3 ^ k1,
            prod_a & MASK32,
        )
        k0 = (k0 + KEY_A) & MASK32
        k1 = (k1 + KEY_B) & MASK32
    return c0, c1, c2, c3


def randint4x(seed: int, offset: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``tl.randint4x(seed, offset)``: four uint32 words (as int64) per offset."""
    if offset.dtype != torch.int64:
        raise TypeError("offsets must be int64")
    k0, k1 = split_key(seed)
    lo = offset & MASK32
    hi = (offset >> 32) & MASK32
    zero = torch.zeros_like(lo)
    return philox4x32(lo, hi, zero, zero, k0, k1)


def uint_to_uniform(x: torch.Tensor) -> torch.Tensor:
    """Triton's ``uint_to_uniform_float`` for 32-bit words: float32 in [0, 1).

    The word is read as int32 and folded onto [0, 2**31) (negative v -> -v-1).
    """
    folded = torch.where(x >= 2**31, MASK32 - x, x)
    return folded.to(torch.float32) * _UNIFORM_SCALE


def randn(seed: int, offset: torch.Tensor) -> torch.Tensor:
    """``tl.randn(seed, offset)``: one float32 standard normal per offset."""
    w0, w1, _, _ = randint4x(seed, offset)
    u1 = torch.maximum(uint_to_uniform(w0), _U_MIN)
    u2 = uint_to_uniform(w1)
    radius = torch.sqrt(-2.0 * torch.log(u1))
    return radius * torch.cos(_TWO_PI * u2)


def rand(seed: int, offset: torch.Tensor) -> torch.Tensor:
    """``tl.rand(seed, offset)``: one float32 uniform in [0, 1) per offset."""
    return uint_to_uniform(randint4x(seed, offset)[0])
