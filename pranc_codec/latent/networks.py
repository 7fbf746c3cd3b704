"""The decoder's networks in float torch, differentiable: what a v2 fit trains.

Each mirrors a numpy or fixed-point original the decoder runs (``grids``'
upsampling, ``synthesis``, ``entropy_model``), and the tests hold each pair
together; the rate is the Laplace code length the entropy model's coder spends.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .entropy_model import CONTEXT, LOG2_SCALE_MAX, LOG2_SCALE_MIN, ArmShape
from .grids import LATENT_MAX, taps
from .synthesis import SynthesisShape

MIN_PROBABILITY = 2.0**-20  # the coder's resolution: no symbol costs more than 20 bits


class Upsampler:
    """Bilinear upsampling of one grid to any rows and columns of the image, as
    ``grids.upsample_rows``: two gathers and a blend along each axis, so a
    subsample costs only its own pixels (and its gradient only theirs)."""

    def __init__(self, rows: int, cols: int, level: int, height: int, width: int, device):
        row_taps, col_taps = taps(height, rows, level), taps(width, cols, level)
        # the grid rows each image row reads, on the host: spans need no device sync
        self.first_row, self.last_row = row_taps[:2]
        self.rows, self.cols = (tuple(torch.from_numpy(t).to(device) for t in axis[:3])
                                for axis in (row_taps, col_taps))

    def span(self, rows: slice) -> slice:
        """The grid rows that the image's ``rows`` read (taps grow with the row)."""
        r = range(*rows.indices(len(self.first_row)))
        return slice(int(self.first_row[r[0]]), int(self.last_row[r[-1]]) + 1)

    def __call__(self, grid: torch.Tensor, rows: slice, cols: slice,
                 grid_rows: slice | None = None) -> torch.Tensor:
        """The upsampled grid at ``rows`` and ``cols``; ``grid`` holds only the
        grid's rows ``grid_rows`` where given (at least ``span(rows)``)."""
        y0, y1, fy = (t[rows] for t in self.rows)
        if grid_rows is not None:
            y0, y1 = y0 - grid_rows.start, y1 - grid_rows.start
        x0, x1, fx = (t[cols] for t in self.cols)
        rows = torch.lerp(grid[y0], grid[y1], fy)
        return torch.lerp(rows[:, x0], rows[:, x1], fx.T)


def synthesize(shape: SynthesisShape, theta: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """(H, W, L) features -> (H, W, C) output, as ``synthesis.render`` computes it."""
    layers = shape.unflatten(theta)
    h = feats
    for w, b in layers[:shape.layers]:
        h = (h @ w.T + b).relu_()  # in place: the sum is fresh and its gradient needs no copy
    w, b = layers[shape.layers]
    y = h @ w.T + b
    if shape.res:
        y = y.permute(2, 0, 1)[None]
        for w, b in layers[shape.layers + 1:]:
            y = y + F.conv2d(y, w, b, padding=1)
        y = y[0].permute(1, 2, 0)
    return y


def contexts(grid: torch.Tensor, n: int, r0: int = 0, r1: int | None = None) -> torch.Tensor:
    """((r1 - r0) * cols, n) causal neighbours of the latents of rows r0 .. r1 - 1
    (all rows by default; 0 outside the grid). They reach 3 rows up."""
    r1 = grid.shape[0] if r1 is None else r1
    above = min(3, r0)
    pad = F.pad(grid[r0 - above:r1], (3, 3, 3 - above, 0))
    rows, cols = r1 - r0, grid.shape[1]
    return torch.stack([pad[3 + dy:3 + dy + rows, 3 + dx:3 + dx + cols].reshape(-1)
                        for dy, dx in CONTEXT[:n].tolist()], dim=1)


def arm(shape: ArmShape, theta: torch.Tensor, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, log2 scale) per context row: the float version of the fixed-point model."""
    pos, h = 0, ctx
    for i, (o, n_in) in enumerate(shape.layer_shapes()):
        w = theta[pos:pos + o * n_in].view(o, n_in)
        b = theta[pos + o * n_in:pos + o * n_in + o]
        pos += o * n_in + o
        h = h @ w.T + b
        if i < shape.layers:
            h = h.relu_()  # in place: the sum is fresh and its gradient needs no copy
    return h[:, 0], h[:, 1]


def laplace_bits(x: torch.Tensor, mu: torch.Tensor, log2_scale: torch.Tensor) -> torch.Tensor:
    """Bits of integers x under a Laplace(mu, 2^log2_scale) integrated over [x - 1/2, x + 1/2]."""
    mu = mu.clamp(-LATENT_MAX, LATENT_MAX)
    b = torch.exp2(log2_scale.clamp(LOG2_SCALE_MIN, LOG2_SCALE_MAX))
    t = x - mu
    hi, lo = t + 0.5, t - 0.5
    # Bins wholly on one side of mu as a difference of that tail's exponentials
    # (no cancellation far out), the bin holding mu as 1 minus both tails.
    above_lo, above_hi = torch.exp(-lo.clamp(min=0) / b), torch.exp(-hi.clamp(min=0) / b)
    below_hi, below_lo = torch.exp(hi.clamp(max=0) / b), torch.exp(lo.clamp(max=0) / b)
    upper = 0.5 * (above_lo - above_hi)
    lower = 0.5 * (below_hi - below_lo)
    middle = 1.0 - 0.5 * below_lo - 0.5 * above_hi
    p = torch.where(lo >= 0, upper, torch.where(hi <= 0, lower, middle))
    return -torch.log2(p.clamp_min(MIN_PROBABILITY))


def soft_round(y: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """A differentiable rounding that tends to round() as the temperature falls
    (Agustsson and Theis, 2020). A tensor temperature is read where it lies
    (a CUDA graph replays with the value of the moment)."""
    tanh = torch.tanh if isinstance(temperature, torch.Tensor) else math.tanh
    below = torch.floor(y)
    return below + 0.5 + torch.tanh((y - below - 0.5) / temperature) / (2 * tanh(0.5 / temperature))
