"""A range-variant ANS coder (rANS) in integers, compiled by numba.

64-bit state, 32-bit words, symbol frequencies out of 2^prob_bits: the
construction of Duda's rANS as in Giesen's rans64. The encoder runs over the
symbols backwards and its words are reversed, so the decoder reads one
stream front to back, symbol by symbol, interleaved with the model that
gives each symbol's distribution (the latents' autoregressive model needs
exactly that; a coder behind a Python call per symbol would be 100x slower).
Everything is int64 arithmetic on values below 2^63: no floats, so encoder
and decoder agree on every platform. docs/format.md specifies the stream.

Format v2 starts the encoder at STATE_LOW, so its final state carries 31
bits no symbol needed; v3 starts it at 1 (START_V3): until the state first
reaches STATE_LOW no word is written, and the decoder, at the end of the
stream, stops reading instead of failing. Each stream's flush costs about
17 bits instead of 48.
"""
from __future__ import annotations

import numba
import numpy as np

STATE_LOW = 1 << 31  # the state lives in [STATE_LOW, 2^63) once it is there
START_V3 = 1
_WORD = (1 << 32) - 1


@numba.njit(cache=True)
def encode_reversed(starts: np.ndarray, freqs: np.ndarray, prob_bits: int,
                    start: int) -> np.ndarray:
    """The words coding symbols (start, freq) 0..n-1 out of 2^prob_bits from the
    state ``start``, as uint32 in reading order."""
    n = starts.size
    words = np.empty(n + 2, dtype=np.uint32)
    used = 0
    x = np.int64(start)
    for i in range(n - 1, -1, -1):
        freq = freqs[i]
        if x >= ((STATE_LOW >> prob_bits) << 32) * freq:
            words[used] = np.uint32(x & _WORD)
            used += 1
            x >>= 32
        x = ((x // freq) << prob_bits) + (x % freq) + starts[i]
    words[used] = np.uint32(x & _WORD)
    words[used + 1] = np.uint32(x >> 32)
    return words[:used + 2][::-1].copy()


@numba.njit(cache=True)
def find(cdf: np.ndarray, slot: int, guess: int) -> int:
    """The symbol s with cdf[s] <= slot < cdf[s + 1] (cdf ascending from 0 to
    above any slot), searched outwards from ``guess``, the likeliest symbol: most
    symbols lie within a step or two of it, and a bisection of the whole table
    reads a cache line per step."""
    last = cdf.size - 1
    step = 1
    if cdf[guess] <= slot:
        lo, hi = guess, min(guess + 1, last)
        while cdf[hi] <= slot:
            lo, step = hi, step * 2
            hi = min(hi + step, last)
    else:
        lo, hi = max(guess - 1, 0), guess
        while cdf[lo] > slot:
            hi, step = lo, step * 2
            lo = max(lo - step, 0)
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cdf[mid] <= slot:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def decoder_start(words: np.ndarray) -> tuple[int, int]:
    """(state, next word) at the start of a stream; state -1 if it cannot be one."""
    if words.size < 2 or words[0] >= np.uint32(1 << 31):
        return -1, 0
    return (np.int64(words[0]) << 32) | np.int64(words[1]), 2


@numba.njit(cache=True)
def decode_symbol(words: np.ndarray, pos: int, x: int, cdf: np.ndarray, prob_bits: int,
                  lenient: bool, guess: int) -> tuple[int, int, int]:
    """(symbol, state, next word) after decoding one symbol with ``cdf`` (out of
    2^prob_bits; ``guess`` the likeliest symbol, see find). Where the state needs
    a word and none is left: state -1 (the stream ends early), or with
    ``lenient`` (v3, whose last symbols need none) the state as it is, below
    STATE_LOW."""
    slot = x & ((1 << prob_bits) - 1)
    s = find(cdf, slot, guess)
    x = (cdf[s + 1] - cdf[s]) * (x >> prob_bits) + slot - cdf[s]
    if x < STATE_LOW:
        if pos >= words.size:
            return s, x if lenient else -1, pos
        x = (x << 32) | np.int64(words[pos])
        pos += 1
    return s, x, pos
