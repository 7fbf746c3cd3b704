"""SIREN evaluated functionally from one flat parameter vector.

Layers are ``depth`` sine layers of ``width`` units (the first reads the two
pixel coordinates) and a linear output layer with one unit per channel. The
flat vector holds each layer's weight (row-major, out x in) then its bias, layer
after layer; the container's coefficient groups are defined over this order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IN_FEATURES = 2


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

    def init_bounds(self) -> torch.Tensor:
        """Half-width of the uniform init of every parameter (SIREN's scheme).

        First-layer weights U(-1/in, 1/in), later weights U(-sqrt(6/in)/w0, ..),
        biases U(-1/sqrt(in), ..) as torch's nn.Linear does.
        """
        parts = []
        for layer, (o, i) in enumerate(self.layer_shapes()):
            w = 1.0 / i if layer == 0 else math.sqrt(6.0 / i) / self.w0
            parts.append(torch.full((o * i,), w, dtype=torch.float32))
            parts.append(torch.full((o,), 1.0 / math.sqrt(i), dtype=torch.float32))
        return torch.cat(parts)

    def unflatten(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        layers, pos = [], 0
        for o, i in self.layer_shapes():
            w = theta[pos:pos + o * i].view(o, i)
            pos += o * i
            layers.append((w, theta[pos:pos + o]))
            pos += o
        return layers

    def forward(self, theta: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Network output (pixels x channels, target range [-1, 1]) at coords."""
        layers = self.unflatten(theta)
        h = coords
        for w, b in layers[:-1]:
            h = torch.sin(self.w0 * F.linear(h, w, b))
        w, b = layers[-1]
        return F.linear(h, w, b)


def pixel_coords(height: int, width: int) -> torch.Tensor:
    """(height*width, 2) coordinates (y, x) in [-1, 1], row-major pixel order."""
    return _grid(_axis(height), _axis(width))


def _grid(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(-1, 2)


def _axis(n: int) -> torch.Tensor:
    if n == 1:
        return torch.zeros(1)
    return torch.arange(n, dtype=torch.float32) * (2.0 / (n - 1)) - 1.0


def to_target(image: torch.Tensor) -> torch.Tensor:
    """uint8 (H, W, C) -> float (H*W, C) in [-1, 1]."""
    return image.reshape(-1, image.shape[-1]).to(torch.float32) / 127.5 - 1.0


def to_pixels(output: torch.Tensor) -> torch.Tensor:
    """Network output in [-1, 1] -> uint8, rounded to nearest."""
    return torch.round((output.clamp(-1.0, 1.0) + 1.0) * 127.5).to(torch.uint8)


@torch.no_grad()
def render(net: Siren, theta: torch.Tensor, height: int, width: int,
           chunk_pixels: int = 1 << 16) -> torch.Tensor:
    """Decode the full image as uint8 (H, W, C), a bounded number of rows at a time."""
    out = torch.empty(height * width, net.channels, dtype=torch.uint8)
    rows_per_chunk = max(1, chunk_pixels // width)
    xs = _axis(width)
    ys = _axis(height)
    for r0 in range(0, height, rows_per_chunk):
        r1 = min(height, r0 + rows_per_chunk)
        coords = _grid(ys[r0:r1], xs)
        out[r0 * width:r1 * width] = to_pixels(net.forward(theta, coords))
    return out.view(height, width, net.channels)
