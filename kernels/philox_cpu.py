"""The CPU kernel: ``tl.randn`` over a range of offsets, compiled with numba.

The torch reference (``pranc_codec.philox.randn``) needs a dozen full-size
tensor passes per Philox round and peaks at 40-60 million values per second
on two cores; this loop keeps the whole state of one counter in registers and
runs about three times faster. It follows the reference operation for
operation: the integer stage is bit-exact, the float stage uses the same
float32 operations in the same order, so values agree to the last-ulp
differences of log and cos (as the Triton kernels do).
"""
from __future__ import annotations

import math

import numba
import numpy as np

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

# Every constant is a typed numpy scalar: a bare int mixed with uint64 would
# promote to float64 and lose the low bits.


@numba.njit(inline="always")
def _words01(offset, k0, k1):
    """Philox4x32-10 words 0 and 1 for counter (offset_lo, offset_hi, 0, 0)."""
    c0, c1 = offset & _M32, offset >> _SHIFT
    c2, c3 = np.uint64(0), np.uint64(0)
    for _ in range(10):
        pa, pb = c0 * _ROUND_A, c2 * _ROUND_B
        c0, c1 = (pb >> _SHIFT) ^ c1 ^ k0, pb & _M32
        c2, c3 = (pa >> _SHIFT) ^ c3 ^ k1, pa & _M32
        k0, k1 = (k0 + _KEY_A) & _M32, (k1 + _KEY_B) & _M32
    return c0, c1


@numba.njit(inline="always")
def _uniform(word):
    """Triton's uint_to_uniform_float: the word as int32, folded onto [0, 2**31)."""
    v = np.int32(np.uint32(word))
    if v < 0:
        v = -v - np.int32(1)
    return np.float32(v) * _SCALE


@numba.njit(parallel=True, cache=True)
def _randn(k0, k1, start, out):
    for i in numba.prange(out.size):
        w0, w1 = _words01(start + np.uint64(i), k0, k1)
        u1 = max(_uniform(w0), _U_MIN)
        radius = np.float32(math.sqrt(_MINUS_TWO * np.float32(math.log(u1))))
        out[i] = radius * np.float32(math.cos(_TWO_PI * _uniform(w1)))


@numba.njit(parallel=True, cache=True)
def _words(k0, k1, start, out):
    for i in numba.prange(out.shape[0]):
        out[i, 0], out[i, 1] = _words01(start + np.uint64(i), k0, k1)


def _check(k0: int, k1: int, start: int, n: int) -> None:
    if not (0 <= k0 < 2**32 and 0 <= k1 < 2**32):
        raise ValueError("key words must be 32-bit")
    if start < 0 or n < 0 or start + n > 2**63:
        raise ValueError(f"offsets [{start}, {start + n}) leave the int64 range")


def _set_threads(threads: int) -> None:
    # Follow torch's thread count, so OMP_NUM_THREADS and torch.set_num_threads
    # bound this kernel too.
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def randn(k0: int, k1: int, start: int, n: int, threads: int) -> np.ndarray:
    """``tl.randn`` with key (k0, k1) at offsets start .. start + n - 1, float32."""
    _check(k0, k1, start, n)
    _set_threads(threads)
    out = np.empty(n, dtype=np.float32)
    _randn(np.uint64(k0), np.uint64(k1), np.uint64(start), out)
    return out


def words(k0: int, k1: int, start: int, n: int, threads: int = 1) -> np.ndarray:
    """Philox words 0 and 1 at offsets start .. start + n - 1, (n, 2) uint64."""
    _check(k0, k1, start, n)
    _set_threads(threads)
    out = np.empty((n, 2), dtype=np.uint64)
    _words(np.uint64(k0), np.uint64(k1), np.uint64(start), out)
    return out
