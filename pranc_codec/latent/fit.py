"""Fitting a v2 representation to an image (torch): latents and PRANC-coded networks.

The trained quantities are the latent grids (float, quantized to integers
in the file) and every network group's coefficients (the networks'
weights are theta0 + B @ a over the seeded sign basis,
``basis.product.BasisProduct``). The loss is MSE (on 0..1 pixels) + lambda
* (latent bits + coefficient bits) / pixels, through the float networks of
``networks``. Each iteration may measure the distortion on every s-th row
and column at a random offset (an unbiased estimate at 1/s^2 of the cost
that still gives every latent a gradient, which a random window does not:
a window measured about 1.5 dB worse for the same time) while the rate
counts every latent.

A phase's loop (``LatentFit.train``) puts three pieces together: the
``schedule`` says each iteration's learning rates and rounding, a ``Step``
computes the loss and updates, and ``graphs.GraphReplay`` replays the step
as a CUDA graph on a GPU.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..basis.groups import stream_key
from ..basis.netweights import WEIGHT_FRAC, IntGroup, theta0_int
from ..basis.product import BasisProduct
from ..errors import PrcError
from .architecture import Architecture
from .graphs import GraphReplay, Outputs
from .grids import LATENT_MAX, grid_shapes
from .networks import Upsampler, arm, contexts, laplace_bits, soft_round, synthesize
from .schedule import Schedule

LN2 = math.log(2.0)
# An image of more pixels is fitted in bands: each band of sampled rows
# (about BAND_PIXELS of them) and of latent rows (about BAND_LATENTS) goes
# forward and backward on its own, so an iteration's memory stays that of a
# band whatever the image's size, and its arrays stay near the caches (a
# 3000x2000 image's iteration took twice as long per pixel as 768x512's).
# Up to WHOLE_PIXELS an iteration is one pass, exactly as it always was, so
# the files of such images are the same bytes.
WHOLE_PIXELS = 1 << 20
BAND_PIXELS = 1 << 16
BAND_LATENTS = 1 << 16
# The coefficients' gradient norm is clipped here (as Cool-chic and C3 clip
# their networks'): typically 0.01, it spikes 100-fold early in a fit, and on
# a GPU a 10,000-iteration fit jumped from 5.8e-4 to 4.5e-3 in J a quarter of
# the way in and never came back.
CLIP_NORM = 0.1


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
        return self.theta0 + torch.cat(deltas, dim=-1)  # (..., n_params): one row per image

    def synthesize(self, latents: list[torch.Tensor], theta_syn: torch.Tensor,
                   pixels: tuple[slice, slice] | None = None,
                   grid_rows: list[slice] | None = None) -> torch.Tensor:
        """The output (rows, cols, C) at the pixels selected by the (rows, cols)
        slices, or of the whole image; ``latents`` hold only each grid's rows
        ``grid_rows`` where given (``grid_spans``)."""
        rows, cols = pixels or (slice(None), slice(None))
        spans = grid_rows or [None] * len(latents)
        feats = torch.stack([up(g, rows, cols, span)
                             for g, up, span in zip(latents, self.upsamplers, spans)], dim=-1)
        return synthesize(self.arch.synthesis, theta_syn, feats)

    @property
    def banded(self) -> bool:
        return self.height * self.width > WHOLE_PIXELS

    def band_rows(self, rows: slice) -> tuple[slice, slice]:
        """(the rows to synthesize for the sampled ``rows`` of one band, where the
        band's own lie among them). 3x3 residual layers (which sample every row)
        need ``res`` rows beyond the band on each side, so its own rows come out
        as they would from the whole image."""
        halo = self.arch.synthesis.res
        if not halo:
            return rows, slice(None)
        r0, r1 = max(0, rows.start - halo), min(self.height, rows.stop + halo)
        return slice(r0, r1), slice(rows.start - r0, rows.stop - r0)

    def grid_spans(self, rows: slice) -> list[slice]:
        """The rows of each grid that the image's ``rows`` read."""
        return [up.span(rows) for up in self.upsamplers]

    def synthesize_band(self, latents: list[torch.Tensor], theta_syn: torch.Tensor, rows: slice,
                        cols: slice, grid_rows: list[slice] | None = None) -> torch.Tensor:
        """synthesize at the sampled ``rows`` of one band (see band_rows); ``latents``
        hold only each grid's rows ``grid_rows`` where given (the band's
        ``grid_spans``)."""
        synthesized, own = self.band_rows(rows)
        return self.synthesize(latents, theta_syn, (synthesized, cols), grid_rows)[own]

    def row_bands(self, rows: slice) -> list[slice]:
        """The sampled rows ``rows`` (a start and a stride) in bands of about
        BAND_PIXELS sampled pixels."""
        stride = rows.step or 1
        width = -(-self.width // stride)
        per_band = max(1, BAND_PIXELS // width) * stride
        return [slice(r, min(self.height, r + per_band), stride)
                for r in range(rows.start or 0, self.height, per_band)]

    def latent_bands(self, latents: list[torch.Tensor]):
        """(grid, its rows a band reads, how many of them only give context) for
        bands of about BAND_LATENTS latents: a band's rows and the 3 above."""
        for i, g in enumerate(latents):
            rows = max(1, BAND_LATENTS // g.shape[1])
            for r0 in range(0, g.shape[0], rows):
                above = min(3, r0)
                yield i, slice(r0 - above, min(g.shape[0], r0 + rows)), above

    def rows_bits(self, read: torch.Tensor, above: int, theta_arm: torch.Tensor) -> torch.Tensor:
        """Bits of the latent rows ``read[above:]`` under the entropy model, the rows
        above them (the grid's top where fewer than 3) their context."""
        mu, log2_scale = arm(self.arch.arm, theta_arm,
                             contexts(read, self.arch.arm.context, above, read.shape[0]))
        return laplace_bits(read[above:].reshape(-1), mu, log2_scale).sum()

    def band_bits(self, latents: list[torch.Tensor], theta_arm: torch.Tensor):
        """The latents' bits, a band of about BAND_LATENTS of them at a time."""
        for i, read, above in self.latent_bands(latents):
            yield self.rows_bits(latents[i][read], above, theta_arm)

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

    def loss(self, latents: list[torch.Tensor], coeffs: list[torch.Tensor], rows: slice,
             cols: slice, lam: float, steps: list[float]) -> Outputs:
        """(loss, MSE at the sampled pixels, latent bits) of one pass."""
        out, bits = self.forward(latents, coeffs, (rows, cols))
        mse = torch.mean((out - self.target[rows][:, cols]) ** 2)
        loss = mse + lam * (bits + self.coeff_bits(coeffs, steps)) / (self.height * self.width)
        return loss, mse, bits

    def clip(self, coeffs: list[torch.Tensor]) -> None:
        """The coefficients' gradients clipped to CLIP_NORM (on device, no sync, so
        a CUDA graph replays it)."""
        torch.nn.utils.clip_grad_norm_(coeffs, CLIP_NORM, foreach=True)

    def image_states(self) -> list[list[torch.Tensor]]:
        """Each image's trained tensors, as views (one image here)."""
        return [self.latents + self.coeffs]

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
              progress: bool = False, desc: str = "fit",
              judges: list[Callable[[], float]] | None = None) -> float:
        """One phase: Adam on latents (unless the schedule holds them) and
        coefficients as ``schedule`` says; returns the final loss (PrcError if
        the fit diverged to a loss that is not finite). Where ``judges`` are
        given (one per image: the loss its file would have, lower is better),
        they are asked at the schedule's ``checkpoints``, and each image ends
        the phase at the best of its states: a phase judged from its start
        never leaves the fit worse than it found it (a long quantization-aware
        phase did: on an H200, kodim21 at lambda 0.00025 went from 36 to 26 dB), nor than it
        was a few hundred iterations before its end. ``steps`` are the
        coefficients' quantization steps the rate assumes, ``coeff_transform``
        what the coefficients go through before use (straight-through
        quantization). On a GPU each distinct iteration is captured as a
        CUDA graph, one per rounding mode and sample offset (stride^2 of
        them), and replayed."""
        step = Step(self, schedule, lam, steps, coeff_transform)
        run = GraphReplay(step, step.clear_grads, enabled=step.graphs)
        pixels = self.height * self.width
        total = schedule.iterations
        gen = torch.Generator().manual_seed(total)
        shape = self.height, self.width
        bar = tqdm(range(total), desc=desc, disable=not progress, leave=False, unit="it")
        checkpoints = schedule.checkpoints() if judges else set()
        states = self.image_states()
        best: list[tuple[float, list[torch.Tensor]] | None] = [None] * len(states)

        def keep_if_best() -> None:
            for n, (judge, state) in enumerate(zip(judges, states, strict=True)):
                judged = judge()
                if best[n] is None or judged < best[n][0]:
                    best[n] = judged, [t.detach().clone() for t in state]

        if -1 in checkpoints:
            keep_if_best()
        for it in bar:
            mode, temperature = schedule.rounding(it)
            if temperature is not None:
                step.set_temperature(temperature)
            step.set_lr(schedule.lr_factor(it))
            rows, cols = self.sample_pixels(schedule.stride, gen, shape)
            loss, mse, bits = run((mode, rows.start, cols.start), mode, rows, cols)
            if progress and (it % 10 == 0 or it == total - 1):
                bar.set_postfix(psnr=f"{-10 * math.log10(max(float(mse.mean()), 1e-12)):.2f}",
                                bpp=f"{float(bits.mean()) / pixels:.3f}")
            if it in checkpoints:
                keep_if_best()
        step.finish()
        for state, kept in zip(states, best):
            if kept is not None:
                for t, value in zip(state, kept[1]):
                    t.copy_(value)
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


class Step:
    """One phase's iteration: the loss at the sampled pixels and Adam's update.

    Adam trains the latents (where the schedule moves them) and every
    coefficient group, each at its peak learning rate times the schedule's
    factor. On a GPU the learning rates and the soft-round temperature are
    tensors changed in place, so a replayed CUDA graph reads the values of
    the moment; the optimizer is then fused (one kernel per group) and
    capturable.
    """

    def __init__(self, fit: LatentFit, schedule: Schedule, lam: float, steps: list[float],
                 coeff_transform: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None):
        self.fit, self.lam, self.steps, self.coeff_transform = fit, lam, steps, coeff_transform
        self.latents = [y.requires_grad_(schedule.moves_latents) for y in fit.latents]
        self.coeffs = [c.requires_grad_(True) for c in fit.coeffs]
        self.graphs = fit.device.type == "cuda"
        trained = ([self.latents] if schedule.moves_latents else []) + [[c] for c in self.coeffs]
        self.peaks = schedule.peak_lrs([g.rank for g in fit.groups])
        lr = [torch.tensor(v, device=fit.device) for v in self.peaks] if self.graphs else self.peaks
        self.opt = torch.optim.Adam([{"params": p, "lr": v} for p, v in zip(trained, lr)],
                                    fused=self.graphs, capturable=self.graphs)
        self.temperature: float | torch.Tensor = (torch.zeros((), device=fit.device)
                                                  if self.graphs else 0.0)

    def set_lr(self, factor: float) -> None:
        for group, peak in zip(self.opt.param_groups, self.peaks):
            if self.graphs:
                group["lr"].fill_(peak * factor)
            else:
                group["lr"] = peak * factor

    def set_temperature(self, value: float) -> None:
        self.temperature = self.temperature.fill_(value) if self.graphs else value

    def __call__(self, mode: str, rows: slice, cols: slice) -> Outputs:
        """One update; returns (loss, MSE, latent bits), detached: a kept autograd
        graph would tie the next CUDA-graph capture to this stream."""
        fit = self.fit
        used = self.coeff_transform(self.coeffs) if self.coeff_transform else self.coeffs
        latents = fit.quantized_latents(mode, self.temperature)
        if fit.banded:
            loss, mse, bits = self.banded(latents, used, rows, cols)
        else:
            loss, mse, bits = fit.loss(latents, used, rows, cols, self.lam, self.steps)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
        fit.clip(self.coeffs)
        self.opt.step()
        return loss.detach(), mse.detach(), bits.detach()

    def banded(self, latents: list[torch.Tensor], used: list[torch.Tensor], rows: slice,
               cols: slice) -> Outputs:
        """The loss and its gradients, as one pass computes them, in bands: each band
        of sampled rows and each band of latents goes backward on its own, from
        copies of only the grid rows it reads and of the weights, into
        gradient buffers (a band's backward into a whole grid would clear a
        grid-sized gradient per band: time and page faults growing with the
        square of the pixels); these then go backward once through the
        rounding and the basis product."""
        fit = self.fit
        n_syn = fit.arch.synthesis.n_params
        pixels = fit.height * fit.width
        theta = fit.theta(used)
        theta_band = theta.detach().requires_grad_(True)
        grads = [torch.zeros_like(q) if q.requires_grad else None for q in latents]

        def rows_of(i: int, read: slice) -> torch.Tensor:
            return latents[i][read].detach().requires_grad_(grads[i] is not None)

        def gather(i: int, read: slice, local: torch.Tensor) -> None:
            if grads[i] is not None:
                grads[i][read] += local.grad

        samples = fit.target[rows][:, cols].numel()
        mse = bits = theta.new_zeros(())
        for band in fit.row_bands(rows):
            spans = fit.grid_spans(fit.band_rows(band)[0])
            local = [rows_of(i, span) for i, span in enumerate(spans)]
            out = fit.synthesize_band(local, theta_band[:n_syn], band, cols, spans)
            err = torch.sum((out - fit.target[band][:, cols]) ** 2) / samples
            err.backward()
            mse = mse + err.detach()
            for i, (span, q) in enumerate(zip(spans, local)):
                gather(i, span, q)
        for i, read, above in fit.latent_bands(latents):
            local = rows_of(i, read)
            part = fit.rows_bits(local, above, theta_band[n_syn:])
            (self.lam * part / pixels).backward()
            bits = bits + part.detach()
            gather(i, read, local)
        coeff_rate = self.lam * fit.coeff_bits(used, self.steps) / pixels
        moving = [(q, g) for q, g in zip(latents, grads) if g is not None]
        self.opt.zero_grad(set_to_none=True)
        torch.autograd.backward([coeff_rate, theta, *(q for q, _ in moving)],
                                [None, theta_band.grad, *(g for _, g in moving)])
        return mse + self.lam * bits / pixels + coeff_rate.detach(), mse, bits

    def clear_grads(self) -> None:
        self.opt.zero_grad(set_to_none=True)

    def finish(self) -> None:
        for t in self.latents + self.coeffs:
            t.requires_grad_(False)
