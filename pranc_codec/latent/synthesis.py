"""The v2 synthesis network: upsampled latents -> pixels (numpy, the decoder's).

Per pixel, ``layers`` 1x1 layers of ``width`` units with ReLU map the L
upsampled latents to hidden features, a linear 1x1 layer maps them to the
channels, then ``res`` 3x3 residual layers refine them: y = y + conv3x3(y)
(zero padding at the image border). The output's 0..1 range maps to 8 bits
as round(clamp(v, 0, 1) * 255), half to even.

Weights sit in the flat vector layer by layer: the weight (out, in) or
(out, in, 3, 3), row-major, then the bias. The fit runs the same network in
torch (``latent.networks``); the tests hold the two together.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..basis.netweights import init_exp

# Output pixels rendered at once (hidden activations of a band): bounds memory.
# 2^16 decoded Kodak 13 % faster than 2^17; 2^15 faster again where bands
# render beside the entropy decoding (decoder.GridsAsDecoded: each band
# waits for fewer rows, and less is left after the stream's end), a 12 MP
# image within 2 % of 2^16.
BAND_PIXELS = 1 << 15
RES_INIT_EXP = -9  # the residual 3x3 layers start near zero


@dataclass(frozen=True)
class SynthesisShape:
    inputs: int  # latent grids
    width: int
    layers: int  # hidden 1x1 layers with ReLU
    res: int  # 3x3 residual layers
    channels: int

    def layer_shapes(self) -> list[tuple[int, int, int]]:
        """(out, in, kernel side) of every layer, input to output."""
        ins = [self.inputs] + [self.width] * self.layers
        shapes = [(self.width, i, 1) for i in ins[:-1]] + [(self.channels, ins[-1], 1)]
        return shapes + [(self.channels, self.channels, 3)] * self.res

    def layer_sizes(self) -> list[int]:
        return [o * i * k * k + o for o, i, k in self.layer_shapes()]

    @property
    def n_params(self) -> int:
        return sum(self.layer_sizes())

    def init_exps(self) -> np.ndarray:
        """Every parameter's init exponent (theta0 half-width 2^e)."""
        parts = [np.full(n, RES_INIT_EXP if k == 3 else init_exp(i * k * k), dtype=np.int64)
                 for (o, i, k), n in zip(self.layer_shapes(), self.layer_sizes())]
        return np.concatenate(parts)

    def unflatten(self, theta):
        """[(W, b)] per layer, as views of theta (numpy array or torch tensor)."""
        out, pos = [], 0
        for o, i, k in self.layer_shapes():
            n = o * i * k * k
            w = theta[pos:pos + n].reshape((o, i, k, k) if k == 3 else (o, i))
            out.append((w, theta[pos + n:pos + n + o]))
            pos += n + o
        return out


def _conv3x3(y: np.ndarray, w: np.ndarray, b: np.ndarray, top: bool, bottom: bool) -> np.ndarray:
    """y + conv3x3(y) over a band (rows, cols, C); the band loses a row at each end
    unless that end is the image border (zero padding there)."""
    rows, cols, _ = y.shape
    pad = np.zeros((rows + 2, cols + 2, y.shape[2]), dtype=np.float32)
    pad[1:-1, 1:-1] = y
    out = y + b
    for dy in range(3):
        for dx in range(3):
            out += pad[dy:dy + rows, dx:dx + cols] @ w[:, :, dy, dx].T
    return out[(0 if top else 1):(rows if bottom else rows - 1)]


def render(shape: SynthesisShape, theta: np.ndarray, feature_rows, height: int,
           width: int, threads: int = 1) -> np.ndarray:
    """Decode the image as uint8 (H, W, C), a band of rows at a time.
    ``feature_rows(r0, r1)`` gives the synthesis input of rows r0 .. r1 - 1.
    With ``threads`` > 1 that many bands are rendered at once, each thread's
    matrix products on one BLAS thread: most of a band's time is numpy's
    passes over memory (upsampling, bias, ReLU), which use one core each,
    so bands in parallel beat parallel products (24 MP on 2 cores: 2.8 s
    against 4.1-5.7 s). Every band's pixels are the same either way.
    """
    layers = shape.unflatten(theta)
    halo = shape.res
    # bands of at most BAND_PIXELS, as many as a multiple of the threads, so none
    # waits on a last band alone (768x512 on 2 threads: 4 bands, not 3; 20 ms less)
    bands = -(-height * width // BAND_PIXELS)
    bands = -(-bands // threads) * threads
    band = max(1, -(-height // bands))
    out = np.empty((height, width, shape.channels), dtype=np.uint8)

    def render_band(r0: int) -> None:
        r1 = min(height, r0 + band)
        a0, a1 = max(0, r0 - halo), min(height, r1 + halo)
        feats = feature_rows(a0, a1)
        # one 2-D matrix of pixels, the bias and ReLU in place: the band's passes
        # over memory, not its multiply-adds, bound the time
        h = feats.reshape(-1, feats.shape[-1])
        for w, b in layers[:shape.layers]:
            h = h @ w.T
            h += b
            np.maximum(h, np.float32(0.0), out=h)
        w, b = layers[shape.layers]
        y = h @ w.T
        y += b
        y = y.reshape(*feats.shape[:2], shape.channels)
        lo, hi = a0, a1
        for w, b in layers[shape.layers + 1:]:
            y = _conv3x3(y, w, b, top=lo == 0, bottom=hi == height)
            lo, hi = lo + (lo > 0), hi - (hi < height)
        y = y[r0 - lo:r1 - lo]
        np.nan_to_num(y, copy=False, nan=0.0)
        out[r0:r1] = np.rint(np.clip(y, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)

    starts = range(0, height, band)
    threads = min(threads, len(starts))
    if threads > 1:
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            list(pool.map(render_band, starts))
    else:
        for r0 in starts:
            render_band(r0)
    return out
