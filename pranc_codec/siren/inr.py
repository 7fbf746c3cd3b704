"""The SIREN: its shape, its initialisation and its rendering, in numpy.

Layers are ``depth`` sine layers of ``width`` units (the first reads the two
pixel coordinates) and a linear output layer with one unit per channel. The
flat vector holds each layer's weight (row-major, out x in) then its bias, layer
after layer; the container's coefficient groups are defined over this order.
Rendering here is the decoder's, in numpy; ``siren.fit`` runs the same
``forward`` on torch tensors to train it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IN_FEATURES = 2
# Activations held at once while rendering (float32 values): bounds the
# decoder's memory whatever the image and network size.
RENDER_VALUES = 1 << 21


@dataclass(frozen=True)
class Siren:
    width: int
    depth: int
    channels: int
    w0: float = 30.0

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of every linear layer, input to output."""
        ins = [IN_FEATURES] + [self.width] * self.depth
        outs = [self.width] * self.depth + [self.channels]
        return list(zip(outs, ins))

    def layer_sizes(self) -> list[int]:
        return [o * i + o for o, i in self.layer_shapes()]

    @property
    def n_params(self) -> int:
        return sum(self.layer_sizes())

    def init_bounds(self) -> np.ndarray:
        """Half-width of the uniform init of every parameter (SIREN's scheme), float32.

        First-layer weights U(-1/in, 1/in), later weights U(-sqrt(6/in)/w0, ..),
        biases U(-1/sqrt(in), ..) as torch's nn.Linear does.
        """
        parts = []
        for layer, (o, i) in enumerate(self.layer_shapes()):
            w = 1.0 / i if layer == 0 else math.sqrt(6.0 / i) / self.w0
            parts.append(np.full(o * i, w, dtype=np.float32))
            parts.append(np.full(o, 1.0 / math.sqrt(i), dtype=np.float32))
        return np.concatenate(parts)

    def unflatten(self, theta):
        """[(W, b)] per layer, as views of theta (a numpy array or a torch tensor)."""
        layers, pos = [], 0
        for o, i in self.layer_shapes():
            w = theta[pos:pos + o * i].reshape(o, i)
            pos += o * i
            layers.append((w, theta[pos:pos + o]))
            pos += o
        return layers


def axis(n: int) -> np.ndarray:
    """n coordinates f32(i) * f32(2 / (n - 1)) - 1 in float32; 0 when n is 1."""
    if n == 1:
        return np.zeros(1, dtype=np.float32)
    return np.arange(n, dtype=np.float32) * np.float32(2.0 / (n - 1)) - np.float32(1.0)


def grid(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(len(ys) * len(xs), 2) coordinates (y, x), row-major pixel order."""
    return np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(-1, 2)


def pixel_coords(height: int, width: int) -> np.ndarray:
    """(height*width, 2) coordinates (y, x) in [-1, 1], row-major pixel order."""
    return grid(axis(height), axis(width))


def to_pixels(output: np.ndarray) -> np.ndarray:
    """Network output in [-1, 1] -> uint8, rounded half to even."""
    return np.rint((np.clip(output, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _sin_in_place(z: np.ndarray) -> np.ndarray:
    return np.sin(z, out=z)


def forward(net: Siren, theta, coords, sin=_sin_in_place):
    """Network output (pixels x channels, target range [-1, 1]) at coords.

    numpy arrays by default; the fit passes torch tensors and ``torch.sin``,
    so training and decoding run one definition of the network. The bias
    and w0 are applied in place (a third faster to decode, and autograd
    needs neither value); only the sine must keep its input for a gradient.
    """
    layers = net.unflatten(theta)
    h = coords
    for w, b in layers[:-1]:
        z = h @ w.T
        z += b
        z *= net.w0
        h = sin(z)
    w, b = layers[-1]
    out = h @ w.T
    out += b
    return out


def render(net: Siren, theta: np.ndarray, height: int, width: int) -> np.ndarray:
    """Decode the full image as uint8 (H, W, C), a bounded number of rows at a time."""
    theta = np.asarray(theta, dtype=np.float32)
    out = np.empty((height * width, net.channels), dtype=np.uint8)
    rows_per_chunk = max(1, RENDER_VALUES // (width * max(net.width, net.channels)))
    xs, ys = axis(width), axis(height)
    for r0 in range(0, height, rows_per_chunk):
        r1 = min(height, r0 + rows_per_chunk)
        out[r0 * width:r1 * width] = to_pixels(forward(net, theta, grid(ys[r0:r1], xs)))
    return out.reshape(height, width, net.channels)
