"""The latents' entropy model: a causal context network in fixed point, and its coding.

Each latent of a grid is coded in raster order. Its context is the values
of up to 24 causal neighbours in the same grid (CONTEXT, nearest first;
zero outside the grid). A small MLP (ReLU hidden layers) maps them to a
mean mu and a log2-scale; the symbol is coded by rANS (``rans``) under a
discretised Laplace distribution taken from a fixed table of integer CDFs
indexed by the scale (in 1/8 steps of log2) and by mu's phase (its
fraction, in quarters in format v2 and sixteenths in v3), the integer part
of mu being applied as a shift of the symbol. A v2 file codes each grid in
its own stream, frequencies out of 2^20; a v3 file codes all grids in one
stream, coarsest first, out of 2^22 (``Precision``: the v2 choices cost
1-6 % of the latents' bits, measured by benchmarks.entropy_precision).

Bit-exactness: the MLP runs on the integer weights of ``netweights``
(multiples of 2^-16) with int64 activations at ACT_FRAC fractional bits and
arithmetic shifts, and the CDF table is built with integer operations only
from a literal table of Laplace decay factors, so the encoder's packing
step and any decoder compute identical distributions. docs/format.md
specifies every operation. The fit trains the float version of the same
network (``latent.networks``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from math import isqrt

import numba
import numpy as np

from ..basis.netweights import WEIGHT_FRAC, init_exp
from . import rans
from .grids import LATENT_MAX

# Causal neighbours (dy, dx), nearest first; a model reads the first n.
CONTEXT = np.array([
    (0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
    (-2, -1), (-2, 1), (-2, -2), (-2, 2), (0, -3), (-3, 0), (-1, -3), (-1, 3),
    (-3, -1), (-3, 1), (-2, -3), (-2, 3), (-3, -2), (-3, 2), (-3, -3), (-3, 3),
], dtype=np.int64)
ACT_FRAC = 8
ACT_MAX = 1 << 40  # hidden activations are clamped here (only a hostile file gets near)
DELTA_MAX = 2 * LATENT_MAX  # symbols code latent - floor(mu) in [-DELTA_MAX, DELTA_MAX]
ALPHABET = 2 * DELTA_MAX + 1
N_SCALES = 96
SCALE_ZERO = 40  # scale index of b = 1: b = 2^((s - SCALE_ZERO) / 8)
LOG2_SCALE_MIN = -SCALE_ZERO / 8
LOG2_SCALE_MAX = (N_SCALES - 1 - SCALE_ZERO) / 8
# round(exp(-1 / (8 b_s)) * 2^30): a Laplace of scale b_s decays by this
# factor every 1/8 of a latent step. Literal, so no platform's exp is involved.
TAU = np.array([
    19666268, 27409473, 37163206, 49130656, 63464312, 80256339, 99533137, 121254227,
    145315154, 171553775, 199759078, 229681607, 261044606, 293555085, 326914198, 360826461,
    395007542, 429190474, 463130302, 496607237, 529428476, 561428867, 592470630, 622442337,
    651257337, 678851797, 705182512, 730224596, 753969162, 776421055, 797596699, 817522092,
    836230973, 853763180, 870163178, 885478791, 899760092, 913058465, 925425813, 936913903,
    947573834, 957455604, 966607779, 975077234, 982908970, 990145980, 996829173, 1002997330,
    1008687096, 1013932999, 1018767490, 1023220997, 1027321989, 1031097062, 1034571010, 1037766921,
    1040706261, 1043408965, 1045893524, 1048177074, 1050275481, 1052203421, 1053974460, 1055601130,
    1057095000, 1058466743, 1059726201, 1060882446, 1061943836, 1062918069, 1063812229, 1064632840,
    1065385899, 1066076925, 1066710993, 1067292768, 1067826536, 1068316239, 1068765495, 1069177631,
    1069555701, 1069902511, 1070220635, 1070512440, 1070780095, 1071025596, 1071250770, 1071457297,
    1071646719, 1071820448, 1071979784, 1072125916, 1072259937, 1072382850, 1072495574, 1072598952,
], dtype=np.int64)
ONE = 1 << 30


@dataclass(frozen=True)
class ArmShape:
    context: int  # neighbours read, 1..24
    width: int
    layers: int  # hidden layers with ReLU

    def layer_shapes(self) -> list[tuple[int, int]]:
        ins = [self.context] + [self.width] * self.layers
        return [(self.width, i) for i in ins[:-1]] + [(2, ins[-1])]

    def layer_sizes(self) -> list[int]:
        return [o * i + o for o, i in self.layer_shapes()]

    @property
    def n_params(self) -> int:
        return sum(self.layer_sizes())

    def init_exps(self) -> np.ndarray:
        return np.concatenate([np.full(o * i + o, init_exp(i), dtype=np.int64)
                               for o, i in self.layer_shapes()])


def _cdf_tables(phase_bits: int, prob_bits: int) -> np.ndarray:
    """(N_SCALES, 2^phase_bits, ALPHABET + 1) int64 CDFs out of 2^prob_bits, integers only.

    With P = 2^phase_bits phases and unit u = 1/(2P) of a latent step, symbol
    d (latent - floor(mu)) with mu's phase f covers the bin [d - f/P - 1/2,
    d - f/P + 1/2] around mu, in units [2P d - 2f - P, 2P d - 2f + P]. The
    Laplace CDF at e units is tau^-e / 2 for e <= 0 and 1 - tau^e / 2 above,
    with tau^k by repeated 30-bit fixed-point products: tau is TAU for P = 4
    (u = 1/8) and its integer square root, scaled, for P = 16 (u = 1/32,
    tau = TAU^(1/4)). Each symbol gets 1 + floor(mass * (2^prob_bits -
    ALPHABET) / 2^30), the most likely one the remainder.
    """
    phases = 1 << phase_bits
    tau = TAU.copy()
    for _ in range((phases // 4).bit_length() - 1):  # every halving of the unit
        tau = np.array([isqrt(int(t) << 30) for t in tau], dtype=np.int64)
    reach = 2 * phases * DELTA_MAX + 3 * phases
    powers = np.empty((N_SCALES, reach + 1), dtype=np.int64)
    powers[:, 0] = ONE
    for k in range(1, reach + 1):
        powers[:, k] = (powers[:, k - 1] * tau) >> 30
    d = np.arange(-DELTA_MAX, DELTA_MAX + 1, dtype=np.int64)
    tables = np.empty((N_SCALES, phases, ALPHABET + 1), dtype=np.int64)
    spare = (1 << prob_bits) - ALPHABET
    for f in range(phases):
        edges = np.concatenate([2 * phases * d - 2 * f - phases,
                                [2 * phases * DELTA_MAX - 2 * f + phases]])
        below = np.where(edges <= 0, powers[:, np.abs(edges)] >> 1,
                         ONE - (powers[:, np.abs(edges)] >> 1))
        below[:, 0], below[:, -1] = 0, ONE
        freq = 1 + ((np.diff(below, axis=1) * spare) >> 30)
        top = np.argmax(freq, axis=1)
        freq[np.arange(N_SCALES), top] += (1 << prob_bits) - freq.sum(axis=1)
        tables[:, f, 0] = 0
        tables[:, f, 1:] = np.cumsum(freq, axis=1)
    return tables


@dataclass(frozen=True)
class Precision:
    """How a format version quantises each latent's distribution and codes it."""

    phase_bits: int  # mu in steps of 2^-phase_bits
    prob_bits: int  # frequencies out of 2^prob_bits
    one_stream: bool  # all grids in one rANS stream (v3) or one stream each (v2)

    @property
    def phases(self) -> int:
        return 1 << self.phase_bits

    @property
    def cdf(self) -> np.ndarray:
        return _cdf(self.phase_bits, self.prob_bits)


@cache
def _cdf(phase_bits: int, prob_bits: int) -> np.ndarray:
    return _cdf_tables(phase_bits, prob_bits)


PRECISION = {2: Precision(2, 20, False), 3: Precision(4, 22, True)}


@numba.njit(cache=True)
def _distribution(values, y, x, scratch, n_ctx, width, layers, phase_bits):
    """(table row scale, phase, floor(mu)) of latent (y, x) given the values before it.

    Most latents are 0 and so are many of their neighbours: the first layer
    reads only the nonzero ones, and a context of zeros alone, whose result
    depends only on the weights, is computed once and kept in ``scratch``
    (6-95 % of a Kodak file's latents; the same integers either way). The
    weights are read input by input from ``scratch``'s transposed copy, the
    outputs contiguous so the compiler vectorises their sums."""
    ctx, idx, h, h2, memo, wt = scratch
    rows, cols = values.shape
    nz = 0
    for i in range(n_ctx):
        yy, xx = y + CONTEXT[i, 0], x + CONTEXT[i, 1]
        if yy >= 0 and 0 <= xx < cols and values[yy, xx] != 0:
            ctx[nz], idx[nz] = values[yy, xx] << ACT_FRAC, i
            nz += 1
    if nz == 0 and memo[0]:
        return memo[1], memo[2], memo[3]
    pos, n_in, src = 0, n_ctx, ctx
    for layer in range(layers + 1):
        n_out = 2 if layer == layers else width
        out = h if layer % 2 == 0 else h2
        for o in range(n_out):
            out[o] = wt[pos + n_out * n_in + o] << ACT_FRAC
        if layer == 0:
            for k in range(nz):
                v, col = ctx[k], idx[k]
                for o in range(n_out):
                    out[o] += wt[col * n_out + o] * v
        else:
            for i in range(n_in):
                v = src[i]
                if v != 0:  # a ReLU's zero
                    for o in range(n_out):
                        out[o] += wt[pos + i * n_out + o] * v
        for o in range(n_out):
            acc = out[o] >> WEIGHT_FRAC
            out[o] = min(max(acc, 0), ACT_MAX) if layer < layers else acc
        pos += n_out * n_in + n_out
        n_in, src = n_out, out
    shift = ACT_FRAC - phase_bits
    mu_q = min(max((src[0] + (1 << (shift - 1))) >> shift, -LATENT_MAX << phase_bits),
               LATENT_MAX << phase_bits)
    scale = min(max(((src[1] + 16) >> 5) + SCALE_ZERO, 0), N_SCALES - 1)
    phase, m = mu_q & ((1 << phase_bits) - 1), mu_q >> phase_bits
    if nz == 0:
        memo[0], memo[1], memo[2], memo[3] = 1, scale, phase, m
    return scale, phase, m


@numba.njit(cache=True)
def _scratch(w, n_ctx, width, layers):
    """What _distribution works in: the nonzero context values and their
    positions, two activation buffers, the all-zero context's result, and the
    weights with each layer's matrix transposed (biases where they were)."""
    n = max(width, 2)
    wt = w.copy()
    pos, n_in = 0, n_ctx
    for layer in range(layers + 1):
        n_out = 2 if layer == layers else width
        for o in range(n_out):
            for i in range(n_in):
                wt[pos + i * n_out + o] = w[pos + o * n_in + i]
        pos += n_out * n_in + n_out
        n_in = n_out
    return (np.empty(n_ctx, dtype=np.int64), np.empty(n_ctx, dtype=np.int64),
            np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.zeros(4, dtype=np.int64),
            wt)


@numba.njit(cache=True)
def _symbols(values, w, n_ctx, width, layers, cdf, phase_bits):
    """(start, frequency) of every latent of a grid, in raster order."""
    rows, cols = values.shape
    starts = np.empty(rows * cols, dtype=np.int64)
    freqs = np.empty(rows * cols, dtype=np.int64)
    scratch = _scratch(w, n_ctx, width, layers)
    for y in range(rows):
        for x in range(cols):
            scale, phase, m = _distribution(values, y, x, scratch, n_ctx, width, layers,
                                            phase_bits)
            s = values[y, x] - m + DELTA_MAX
            starts[y * cols + x] = cdf[scale, phase, s]
            freqs[y * cols + x] = cdf[scale, phase, s + 1] - cdf[scale, phase, s]
    return starts, freqs


@numba.njit(cache=True, nogil=True)
def _decode_rows(words, pos, x_state, values, y0, y1, scratch, n_ctx, width, layers, cdf,
                 phase_bits, prob_bits, lenient):
    """Rows y0 .. y1 - 1 of a grid (``values``, its rows before y0 decoded) from
    a stream at word ``pos`` and state ``x_state``: (status, 0 where none
    went wrong; state; next word; whether the stream had no word
    to give on the way). Statuses: 1 the stream ends early, 2 a latent out
    of range (3, decode_grids': the stream does not end where the grids do)."""
    cols = values.shape[1]
    half = 1 << (phase_bits - 1)
    short = False
    for y in range(y0, y1):
        for x in range(cols):
            scale, phase, m = _distribution(values, y, x, scratch, n_ctx, width, layers,
                                            phase_bits)
            likeliest = DELTA_MAX + (phase >= half)  # the latent nearest the mean
            s, x_state, pos = rans.decode_symbol(words, pos, x_state, cdf[scale, phase],
                                                 prob_bits, lenient, likeliest)
            if x_state < 0:
                return 1, x_state, pos, short
            if x_state < rans.STATE_LOW:  # only lenient streams get here
                short = True
            v = s - DELTA_MAX + m
            if v < -LATENT_MAX or v > LATENT_MAX:
                return 2, x_state, pos, short
            values[y, x] = v
    return 0, x_state, pos, short


@numba.njit(cache=True, nogil=True)
def _mean(rows, cols, w, n_ctx, width, layers, phase_bits):
    """Every latent at its distribution's mean rounded (the most likely value), in
    raster order, each from the means before it."""
    values = np.zeros((rows, cols), dtype=np.int64)
    scratch = _scratch(w, n_ctx, width, layers)
    half = 1 << (phase_bits - 1)
    for y in range(rows):
        for x in range(cols):
            _, phase, m = _distribution(values, y, x, scratch, n_ctx, width, layers,
                                        phase_bits)
            values[y, x] = min(max(m + (phase >= half), -LATENT_MAX), LATENT_MAX)
    return values


def _ints(weights: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weights, dtype=np.int64)


def mean_grid(rows: int, cols: int, weights: np.ndarray, arm: ArmShape,
              precision: Precision) -> np.ndarray:
    """A grid the file does not hold (it was cut short), taken at the entropy model's
    mean: what the model expects of each latent given the ones before it."""
    return _mean(rows, cols, _ints(weights), arm.context, arm.width, arm.layers,
                 precision.phase_bits)


def symbols(values: np.ndarray, weights: np.ndarray, arm: ArmShape,
            precision: Precision) -> tuple[np.ndarray, np.ndarray]:
    """(start, frequency) of each latent of a grid under the fixed-point model, in
    raster order: what rANS codes."""
    return _symbols(_ints(values), _ints(weights), arm.context, arm.width, arm.layers,
                    precision.cdf, precision.phase_bits)


def encode_grids(grids: list[np.ndarray], weights: np.ndarray, arm: ArmShape,
                 precision: Precision) -> list[bytes]:
    """The rANS words of a file's grids of integers in [-LATENT_MAX, LATENT_MAX],
    given finest first: one stream per grid, in that order, or
    (``precision.one_stream``) one stream of them all, coarsest first."""
    coded = [symbols(g, weights, arm, precision) for g in grids]
    if precision.one_stream:
        coded = [tuple(np.concatenate(parts) for parts in zip(*coded[::-1]))]
    start = rans.START_V3 if precision.one_stream else rans.STATE_LOW
    return [rans.encode_reversed(starts, freqs, precision.prob_bits, start)
            .astype("<u4").tobytes() for starts, freqs in coded]


# rows of a grid decode_grids hands on at once where another thread takes them
ROWS_AT_ONCE = 8
DECODE_ERRORS = {1: "ends early", 2: "decodes to a latent out of range",
                 3: "does not end where its grids do"}


def decode_grids(data: bytes, shapes: list[tuple[int, int]], weights: np.ndarray,
                 arm: ArmShape, precision: Precision,
                 rows_done: Callable[[int, np.ndarray, int], None] | None = None,
                 ) -> tuple[list[np.ndarray], str | None, int]:
    """The grids of the given shapes one stream codes, in that order; None or what
    is wrong with the stream; and how many leading grids were decoded before a
    stream cut short ran out of words (``precision.one_stream`` only: such a
    stream's last symbols need no word, so running out is not an error by
    itself). ``rows_done(k, rows, y0)``, where given, is called with each
    ROWS_AT_ONCE rows of grid k as they are decoded (rows y0 ..), so another
    thread can use them while the rest decode."""
    grids = [np.zeros(shape, dtype=np.int64) for shape in shapes]
    if len(data) % 4:
        return grids, "is not a whole number of 32-bit words", 0
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    w = _ints(weights)
    scratch = _scratch(w, arm.context, arm.width, arm.layers)
    x_state, pos = rans.decoder_start(words)
    if x_state < 0:
        return grids, DECODE_ERRORS[1], 0
    whole, cdf = len(shapes), precision.cdf
    for k, grid in enumerate(grids):
        step = ROWS_AT_ONCE if rows_done else max(1, grid.shape[0])
        for y0 in range(0, grid.shape[0], step):
            y1 = min(grid.shape[0], y0 + step)
            status, x_state, pos, short = _decode_rows(
                words, pos, x_state, grid, y0, y1, scratch, arm.context, arm.width, arm.layers,
                cdf, precision.phase_bits, precision.prob_bits, precision.one_stream)
            if short:
                whole = min(whole, k)
            if status:
                return grids, DECODE_ERRORS[status], 0 if status == 1 else min(whole, k)
            if rows_done:
                rows_done(k, grid[y0:y1], y0)
    end = rans.START_V3 if precision.one_stream else rans.STATE_LOW
    if x_state != end or pos != words.size:
        return grids, DECODE_ERRORS[3], whole
    return grids, None, whole
