"""``tl.randn`` and ``tl.rand`` on the CPU without torch: numpy, or compiled with numba.

One source serves both: the Philox rounds and the float stage below are
written with numpy operations that work on scalars and on arrays, so numpy
runs them vectorized (the decoder: no compile, no torch) and numba compiles
them into a loop that keeps one counter's state in registers (a fit: about
twice the torch reference's speed). They follow ``pranc_codec.basis.philox``
operation for operation: the integer stage is bit-exact, the float stage uses
the same float32 operations in the same order, so values agree to the
last-ulp differences of log and cos (as the Triton kernels do).
"""
from __future__ import annotations

import numba
import numpy as np
from numba.extending import register_jitable

_M32 = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_ROUND_A = np.uint64(0xD2511F53)
_ROUND_B = np.uint64(0xCD9E8D57)
_KEY_A = np.uint64(0x9E3779B9)
_KEY_B = np.uint64(0xBB67AE85)
_SCALE = np.float32(4.6566127342e-10)
_TWO_PI = np.float32(6.283185307179586)
_U_MIN = np.float32(1.0e-7)
_MINUS_TWO = np.float32(-2.0)
_SIGN = np.int32(31)
_ZERO = np.uint64(0)
_SIGN_BIT = np.uint64(31)

# Every constant is a typed numpy scalar: a bare int mixed with uint64 would
# promote to float64 and lose the low bits.

BLOCK = 1 << 18  # offsets per numpy pass: the temporaries stay in cache


@register_jitable
def words01(offset, k0, k1):
    """Philox4x32-10 words 0 and 1 for counters (offset_lo, offset_hi, 0, 0)."""
    c0, c1 = offset & _M32, offset >> _SHIFT
    c2, c3 = _ZERO, _ZERO
    for _ in range(10):
        pa, pb = c0 * _ROUND_A, c2 * _ROUND_B
        c0, c1 = (pb >> _SHIFT) ^ c1 ^ k0, pb & _M32
        c2, c3 = (pa >> _SHIFT) ^ c3 ^ k1, pa & _M32
        k0, k1 = (k0 + _KEY_A) & _M32, (k1 + _KEY_B) & _M32
    return c0, c1


@register_jitable
def uniform(word):
    """Triton's uint_to_uniform_float: the word as int32, folded onto [0, 2**31)."""
    v = np.int32(np.uint32(word))
    return np.float32(v ^ (v >> _SIGN)) * _SCALE  # v < 0 -> -v - 1


@register_jitable
def normal(w0, w1):
    """Box-Muller, the branch tl.randn keeps."""
    radius = np.sqrt(_MINUS_TWO * np.log(np.maximum(uniform(w0), _U_MIN)))
    return radius * np.cos(_TWO_PI * uniform(w1))


@numba.njit(parallel=True, cache=True)
def _randn_compiled(k0, k1, start, out):
    for i in numba.prange(out.size):
        w0, w1 = words01(start + np.uint64(i), k0, k1)
        out[i] = normal(w0, w1)


@register_jitable
def sign(w0):
    """+1 or -1 from the top bit of word 0: the integer (v2) basis value."""
    return np.int8(1) - np.int8(2) * np.int8(w0 >> _SIGN_BIT)


@numba.njit(parallel=True, cache=True)
def _signs_compiled(k0, k1, start, out):
    for i in numba.prange(out.size):
        out[i] = sign(words01(start + np.uint64(i), k0, k1)[0])


@numba.njit(parallel=True, cache=True)
def _words_compiled(k0, k1, start, out):
    for i in numba.prange(out.shape[0]):
        out[i, 0], out[i, 1] = words01(start + np.uint64(i), k0, k1)


def split_key(seed: int) -> tuple[int, int]:
    """The 64-bit Philox key as (low word, high word)."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"Philox seed must be in [0, 2**64), got {seed}")
    return seed & 0xFFFFFFFF, seed >> 32


def _check(k0: int, k1: int, start: int, n: int) -> None:
    if not (0 <= k0 < 2**32 and 0 <= k1 < 2**32):
        raise ValueError("key words must be 32-bit")
    if start < 0 or n < 0 or start + n > 2**63:
        raise ValueError(f"offsets [{start}, {start + n}) leave the int64 range")


def _set_threads(threads: int) -> None:
    # Follow torch's thread count, so OMP_NUM_THREADS and torch.set_num_threads
    # bound this kernel too.
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def _numpy_blocks(k0: int, k1: int, start: int, n: int, out: np.ndarray, stage) -> np.ndarray:
    keys = np.uint64(k0), np.uint64(k1)
    for i in range(0, n, BLOCK):
        offsets = np.arange(start + i, start + min(n, i + BLOCK), dtype=np.uint64)
        out[i:i + BLOCK] = stage(*words01(offsets, *keys))
    return out


def randn(k0: int, k1: int, start: int, n: int, threads: int = 1,
          compiled: bool = False) -> np.ndarray:
    """``tl.randn`` with key (k0, k1) at offsets start .. start + n - 1, float32.

    ``compiled`` runs the numba loop on ``threads`` threads (its first call in
    a process loads or compiles it, 0.3 to 1 s); otherwise numpy, one thread.
    """
    _check(k0, k1, start, n)
    out = np.empty(n, dtype=np.float32)
    if not compiled:
        return _numpy_blocks(k0, k1, start, n, out, normal)
    _set_threads(threads)
    _randn_compiled(np.uint64(k0), np.uint64(k1), np.uint64(start), out)
    return out


def signs(k0: int, k1: int, start: int, n: int, threads: int = 1,
          compiled: bool = False) -> np.ndarray:
    """The sign basis (format v2) at offsets start .. start + n - 1: int8 +1 or -1.

    +1 where Philox word 0 is below 2**31, -1 otherwise: integers only, so
    every backend gives the same values bit for bit.
    """
    _check(k0, k1, start, n)
    out = np.empty(n, dtype=np.int8)
    if not compiled:
        return _numpy_blocks(k0, k1, start, n, out, lambda w0, w1: sign(w0))
    _set_threads(threads)
    _signs_compiled(np.uint64(k0), np.uint64(k1), np.uint64(start), out)
    return out


def bytes0(k0: int, k1: int, start: int, n: int) -> np.ndarray:
    """The top byte of Philox word 0 at offsets start .. start + n - 1, as int64 0..255."""
    _check(k0, k1, start, n)
    out = np.empty(n, dtype=np.int64)
    return _numpy_blocks(k0, k1, start, n, out, lambda w0, w1: w0 >> np.uint64(24))


def rand(k0: int, k1: int, start: int, n: int) -> np.ndarray:
    """``tl.rand`` with key (k0, k1) at offsets start .. start + n - 1, float32."""
    _check(k0, k1, start, n)
    out = np.empty(n, dtype=np.float32)
    return _numpy_blocks(k0, k1, start, n, out, lambda w0, w1: uniform(w0))


def words(k0: int, k1: int, start: int, n: int, threads: int = 1) -> np.ndarray:
    """Philox words 0 and 1 at offsets start .. start + n - 1, (n, 2) uint64 (compiled)."""
    _check(k0, k1, start, n)
    _set_threads(threads)
    out = np.empty((n, 2), dtype=np.uint64)
    _words_compiled(np.uint64(k0), np.uint64(k1), np.uint64(start), out)
    return out
