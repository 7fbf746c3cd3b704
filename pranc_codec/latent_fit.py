"""Fitting a v2 representation to an image (torch): latents and PRANC-coded networks.

The trained quantities are the latent grids (float, quantized to integers
in the file) and every network group's coefficients (the networks'
weights are theta0 + B @ a over the seeded sign basis, ``basis.BasisProduct``).
The loss is MSE (on 0..1 pixels) + lambda * (latent bits + coefficient bits)
/ pixels. Latents see soft rounding plus uniform noise throughout (a
straight-through phase after it raised the rounded latents' rate and lost
what the noise phase had won, the more so the longer the fit:
benchmarks/README.md); the learning rate follows a warm-up and a cosine
decay. A quantization-aware phase may then tune the networks alone on the
rounded latents. Each
iteration may measure the distortion on every s-th row and column at a
random offset (an unbiased estimate at 1/s^2 of the cost that still gives
every latent a gradient, which a random window does not: a window measured
about 1.5 dB worse for the same time) while the rate counts every latent.
The same module holds the float versions of the decoder's networks, which
the tests hold to the numpy decoder.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .basis import BasisProduct
from .entropy_model import CONTEXT, LOG2_SCALE_MAX, LOG2_SCALE_MIN, ArmShape
from .errors import PrcError
from .fit import lr_factor
from .groups import stream_key
from .latent_decoder import Architecture
from .latents import LATENT_MAX, grid_shapes, taps
from .netweights import WEIGHT_FRAC, IntGroup, theta0_int
from .synthesis import SynthesisShape

LN2 = math.log(2.0)
MIN_PROBABILITY = 2.0**-20  # the coder's resolution: no symbol costs more than 20 bits


class Upsampler:
    """Bilinear upsampling of one grid to any rows and columns of the image, as
    ``latents.upsample_rows``: two gathers and a blend along each axis, so a
    subsample costs only its own pixels (and its gradient only theirs)."""

    def __init__(self, rows: int, cols: int, level: int, height: int, width: int, device):
        def axis(n_out: int, n_in: int):
            i0, i1, frac, _ = taps(n_out, n_in, level)
            return (torch.from_numpy(i0).to(device), torch.from_numpy(i1).to(device),
                    torch.from_numpy(frac).to(device))

        self.rows, self.cols = axis(height, rows), axis(width, cols)

    def __call__(self, grid: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
        y0, y1, fy = (t[rows] for t in self.rows)
        x0, x1, fx = (t[cols] for t in self.cols)
        rows = torch.lerp(grid[y0], grid[y1], fy)
        return torch.lerp(rows[:, x0], rows[:, x1], fx.T)


def synthesize(shape: SynthesisShape, theta: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """(H, W, L) features -> (H, W, C) output, as ``synthesis.render`` computes it."""
    layers = shape.unflatten(theta)
    h = feats
    for w, b in layers[:shape.layers]:
        h = torch.relu(h @ w.T + b)
    w, b = layers[shape.layers]
    y = h @ w.T + b
    if shape.res:
        y = y.permute(2, 0, 1)[None]
        for w, b in layers[shape.layers + 1:]:
            y = y + F.conv2d(y, w, b, padding=1)
        y = y[0].permute(1, 2, 0)
    return y


def contexts(grid: torch.Tensor, n: int) -> torch.Tensor:
    """(rows * cols, n) causal neighbours of every latent (0 outside the grid)."""
    rows, cols = grid.shape
    pad = F.pad(grid, (3, 3, 3, 0))
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
            h = torch.relu(h)
    return h[:, 0], h[:, 1]


def laplace_bits(x: torch.Tensor, mu: torch.Tensor, log2_scale: torch.Tensor) -> torch.Tensor:
    """Bits of integers x under a Laplace(mu, 2^log2_scale) integrated over [x - 1/2, x + 1/2]."""
    mu = mu.clamp(-LATENT_MAX, LATENT_MAX)
    b = torch.exp2(log2_scale.clamp(LOG2_SCALE_MIN, LOG2_SCALE_MAX))
    t = x - mu
    hi, lo = t + 0.5, t - 0.5
    # Bins wholly on one side of mu as a difference of that tail's exponentials
    # (no cancellation far out), the bin holding mu as 1 minus both tails.
    upper = 0.5 * (torch.exp(-lo.clamp(min=0) / b) - torch.exp(-hi.clamp(min=0) / b))
    lower = 0.5 * (torch.exp(hi.clamp(max=0) / b) - torch.exp(lo.clamp(max=0) / b))
    middle = 1.0 - 0.5 * torch.exp(lo.clamp(max=0) / b) - 0.5 * torch.exp(-hi.clamp(min=0) / b)
    p = torch.where(lo >= 0, upper, torch.where(hi <= 0, lower, middle))
    return -torch.log2(p.clamp_min(MIN_PROBABILITY))


def soft_round(y: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """A differentiable rounding that tends to round() as the temperature falls
    (Agustsson and Theis, 2020). A tensor temperature is read where it lies
    (a CUDA graph replays with the value of the moment)."""
    tanh = torch.tanh if isinstance(temperature, torch.Tensor) else math.tanh
    below = torch.floor(y)
    return below + 0.5 + torch.tanh((y - below - 0.5) / temperature) / (2 * tanh(0.5 / temperature))


@dataclass(frozen=True)
class Schedule:
    iterations: int
    lr: float = 1e-2  # the networks' coefficients (over sqrt(rank) for a basis group)
    # latents move by about this much a step (few steps need many); 0 holds them fixed
    lr_latent: float = 0.1
    soft: tuple[float, float] | None = None  # soft-round temperatures, first and last
    warmup: float = 0.02
    final_lr: float = 0.01
    stride: int = 1  # each iteration's distortion sees every stride-th row and column


class LatentFit:
    """One image and its trainable v2 representation."""

    def __init__(self, image: np.ndarray, arch: Architecture, groups: list[IntGroup], seed: int,
                 l0: int, device: str = "cpu"):
        self.image, self.arch, self.groups, self.seed = image, arch, groups, seed
        self.device = torch.device(device)
        self.height, self.width = image.shape[:2]
        self.levels = list(range(l0, l0 + arch.synthesis.inputs))
        self.target = torch.from_numpy(image.astype(np.float32) / np.float32(255.0)).to(self.device)
        shapes = grid_shapes(self.height, self.width, l0, len(self.levels))
        self.latents = [torch.zeros(r, c, device=self.device) for r, c in shapes]
        self.upsamplers = [Upsampler(r, c, lv, self.height, self.width, self.device)
                           for (r, c), lv in zip(shapes, self.levels)]
        self.coeffs = [torch.zeros(g.n_coeffs, device=self.device) for g in groups]
        theta0 = theta0_int(seed, arch.init_exps()).astype(np.float32) * np.float32(2.0**-WEIGHT_FRAC)
        self.theta0 = torch.from_numpy(theta0).to(self.device)

    def theta(self, coeffs: list[torch.Tensor]) -> torch.Tensor:
        deltas = [c if g.chunk == 0 else BasisProduct.apply(c, g.basis, stream_key(self.seed, i + 1), True)
                  for i, (g, c) in enumerate(zip(self.groups, coeffs))]
        return self.theta0 + torch.cat(deltas)

    def synthesize(self, latents: list[torch.Tensor], theta_syn: torch.Tensor,
                   pixels: tuple[slice, slice] | None = None) -> torch.Tensor:
        """The output (rows, cols, C) at the pixels selected by the (rows, cols)
        slices, or of the whole image."""
        rows, cols = pixels or (slice(None), slice(None))
        feats = torch.stack([up(g, rows, cols) for g, up in zip(latents, self.upsamplers)], dim=-1)
        return synthesize(self.arch.synthesis, theta_syn, feats)

    def latent_bits(self, latents: list[torch.Tensor], theta_arm: torch.Tensor,
                    ctxs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Bits of all the latents under the entropy model (``ctxs``: their
        contexts where already known)."""
        ctxs = ctxs or [contexts(g, self.arch.arm.context) for g in latents]
        bits = latents[0].new_zeros(())
        for g, ctx in zip(latents, ctxs):
            mu, log2_scale = arm(self.arch.arm, theta_arm, ctx)
            bits = bits + laplace_bits(g.reshape(-1), mu, log2_scale).sum()
        return bits

    def forward(self, latents: list[torch.Tensor], coeffs: list[torch.Tensor],
                pixels: tuple[slice, slice] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(output at ``pixels``, see synthesize; bits of all the latents) for
        quantized-or-noisy latents."""
        theta = self.theta(coeffs)
        n_syn = self.arch.synthesis.n_params
        return (self.synthesize(latents, theta[:n_syn], pixels),
                self.latent_bits(latents, theta[n_syn:]))

    def quantized_latents(self, mode: str, temperature: float | torch.Tensor = 0.0) -> list[torch.Tensor]:
        out = []
        for y in self.latents:
            y = y.clamp(-LATENT_MAX, LATENT_MAX)
            if mode == "soft":
                out.append(soft_round(soft_round(y, temperature) + torch.rand_like(y) - 0.5,
                                      temperature))
            elif mode == "noise":
                out.append(y + torch.rand_like(y) - 0.5)
            else:
                out.append(torch.round(y))
        return out

    def coeff_bits(self, coeffs: list[torch.Tensor], steps: list[float]) -> torch.Tensor:
        """A differentiable estimate of the coefficients' bits: Laplace code lengths
        at each group's scale (mean |a|) and step."""
        total = coeffs[0].new_zeros(())
        for c, step in zip(coeffs, steps):
            b = c.detach().abs().mean().clamp_min(step / 2)
            total = total + c.abs().sum() / (b * LN2) + c.numel() * torch.log2(2 * b / step)
        return total

    def train(self, schedule: Schedule, lam: float, steps: list[float],
              coeff_transform: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None = None,
              quant: str | None = None, progress: bool = False, desc: str = "fit") -> float:
        """Adam on latents (unless the schedule holds them) and coefficients;
        returns the final loss (PrcError if the fit diverged to a loss that is
        not finite). The latents are quantized as ``quant`` says (a mode of
        quantized_latents), else by noise and the schedule's soft rounding.

        On a GPU each phase's iteration is captured as a CUDA graph, one per
        sample offset (stride^2 of them), and replayed: the eager iteration is
        some 1,500 small kernel launches, bound by the CPU."""
        move_latents = schedule.lr_latent > 0
        latents = [y.requires_grad_(move_latents) for y in self.latents]
        coeffs = [c.requires_grad_(True) for c in self.coeffs]
        graphs = self.device.type == "cuda"
        trained = ([latents] if move_latents else []) + [[c] for c in coeffs]
        peaks = (([schedule.lr_latent] if move_latents else []) +
                 [schedule.lr / math.sqrt(max(1, g.rank)) for g in self.groups])
        # Tensor learning rates and temperature: a graph reads them where they
        # lie, so the schedule changes them in place.
        lr = [torch.tensor(v, device=self.device) for v in peaks] if graphs else peaks
        # fused: one kernel per group on a GPU
        opt = torch.optim.Adam([{"params": p, "lr": v} for p, v in zip(trained, lr)],
                               fused=self.device.type == "cuda", capturable=graphs)
        temperature: float | torch.Tensor = torch.zeros((), device=self.device) if graphs else 0.0
        pixels = self.height * self.width
        total = schedule.iterations
        gen = torch.Generator().manual_seed(total)
        shape = self.height, self.width

        def step(mode: str, rows: slice, cols: slice) -> tuple[torch.Tensor, ...]:
            used = coeff_transform(coeffs) if coeff_transform else coeffs
            out, bits = self.forward(self.quantized_latents(mode, temperature), used, (rows, cols))
            mse = torch.mean((out - self.target[rows][:, cols]) ** 2)
            loss = mse + lam * (bits + self.coeff_bits(used, steps)) / pixels
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # detached: a kept autograd graph would tie the next capture to this stream
            return loss.detach(), mse.detach(), bits.detach()

        captured: dict[str, tuple[torch.cuda.CUDAGraph, tuple[torch.Tensor, ...]]] = {}
        capture = graphs
        bar = tqdm(range(total), desc=desc, disable=not progress, leave=False, unit="it")
        for it in bar:
            factor = lr_factor(it, total, schedule)
            mode = quant or "noise"
            if mode == "noise" and schedule.soft:
                t0, t1 = schedule.soft
                mode, value = "soft", t0 + (t1 - t0) * it / total
                temperature = temperature.fill_(value) if graphs else value
            for group, peak in zip(opt.param_groups, peaks):
                if graphs:
                    group["lr"].fill_(peak * factor)
                else:
                    group["lr"] = peak * factor
            rows, cols = self.sample_pixels(schedule.stride, gen, shape)
            key = mode, rows.start, cols.start
            if key in captured:
                graph, (loss, mse, bits) = captured[key]
                graph.replay()
            else:
                # the first iteration of a phase and offset runs eagerly (on a
                # side stream, as capture wants: it creates the optimizer's
                # state), and is captured for the next ones
                side = torch.cuda.Stream() if capture else None
                with torch.cuda.stream(side) if capture else contextlib.nullcontext():
                    loss, mse, bits = step(mode, rows, cols)
                if capture:
                    torch.cuda.current_stream().wait_stream(side)
                    try:
                        graph = torch.cuda.CUDAGraph()
                        opt.zero_grad(set_to_none=True)
                        with torch.cuda.graph(graph):
                            outputs = step(mode, rows, cols)
                        captured[key] = graph, outputs
                    except RuntimeError as e:
                        warnings.warn(f"CUDA graph capture failed, the fit goes on without: {e}")
                        capture = False
            if progress and (it % 10 == 0 or it == total - 1):
                bar.set_postfix(psnr=f"{-10 * math.log10(max(mse.item(), 1e-12)):.2f}",
                                bpp=f"{bits.item() / pixels:.3f}")
        for t in latents + coeffs:
            t.requires_grad_(False)
        final = float(loss.detach())
        # a diverged fit's latents would round to garbage the coder cannot hold
        if not math.isfinite(final):
            raise PrcError("the fit diverged (its loss is not finite); try another --seed")
        return final

    @staticmethod
    def sample_pixels(stride: int, gen: torch.Generator, shape: tuple[int, int]) -> tuple[slice, slice]:
        """(rows, cols) of an image of ``shape`` (height, width): every stride-th row
        and column from a random offset. Their MSE is an unbiased estimate of the
        whole image's at 1/stride^2 of the cost. An image narrower than the
        stride keeps its offsets inside it (an empty sample's MSE is not a number)."""
        oy, ox = (int(v) % n for v, n in zip(torch.randint(stride, (2,), generator=gen), shape))
        return slice(oy, None, stride), slice(ox, None, stride)


class RoundedProbe:
    """The rounded latents' distortion and bits as the networks' weights change
    (choosing the quantization steps measures both a few dozen times): the
    features and contexts, which only the latents set, are made once, and
    the image is synthesized in blocks of rows, where whole-image
    intermediates ran memory-bound (the network at 768x512: 32 ms against
    176 ms, the same values; 3x3 residual layers need their neighbours, so
    they get the whole image)."""

    ROWS = 16

    @torch.no_grad()
    def __init__(self, fit: LatentFit):
        self.fit = fit
        self.latents = fit.quantized_latents("round")
        self.feats = torch.stack([up(g, slice(None), slice(None))
                                  for g, up in zip(self.latents, fit.upsamplers)], dim=-1)
        self.ctxs = [contexts(g, fit.arch.arm.context) for g in self.latents]

    @torch.no_grad()
    def mse(self, theta: torch.Tensor) -> float:
        """MSE on 0..1 pixels of the 8-bit output at weights ``theta``."""
        shape = self.fit.arch.synthesis
        theta_syn = theta[:shape.n_params]
        rows = self.fit.height if shape.res else self.ROWS
        out = torch.cat([synthesize(shape, theta_syn, self.feats[r:r + rows])
                         for r in range(0, self.fit.height, rows)])
        pixels = torch.round(out.clamp(0, 1) * 255) / 255
        return float(torch.mean((pixels - self.fit.target) ** 2))

    @torch.no_grad()
    def bits(self, theta: torch.Tensor) -> float:
        """Bits of the rounded latents at weights ``theta``."""
        n_syn = self.fit.arch.synthesis.n_params
        return float(self.fit.latent_bits(self.latents, theta[n_syn:], self.ctxs))
