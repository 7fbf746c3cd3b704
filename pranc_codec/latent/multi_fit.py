"""Several images of one shape fitted in lockstep (torch): one pass, one product.

Every image keeps its own latents, coefficients and lambda, and is fitted
as ``fit.LatentFit`` fits it alone: the same schedule, sample offsets,
learning rates, clipping (per image) and best-state keeping (per image, by
its own judge). What they share is the seeded basis: the networks of N
images are theta0 + B @ [a_1 .. a_N], one basis product for all (on a GPU,
one Triton launch with N columns instead of N launches of one), and the
synthesis and entropy model run as batched operations (``torch.func.vmap``
of the one-image loss). Adam is elementwise, so the stacked tensors train
as N separate ones would; only the rounding noise differs from N single
fits (one draw for the stack), so a file lands within the seed spread of
its single fit rather than on the same bytes.
"""
from __future__ import annotations

import torch

from .fit import CLIP_NORM, LatentFit, Outputs


class MultiFit(LatentFit):
    """N LatentFits of one shape, architecture and seed, their tensors stacked
    (a leading image axis); each fit's own tensors become views of its row,
    which its judge reads, and which the single-image steps after the main
    phase (step choice, quantization-aware tuning, packing) take over."""

    def __init__(self, fits: list[LatentFit], lams: list[float]):
        first = fits[0]
        for f in fits[1:]:
            if (f.image.shape, f.arch, f.seed, f.levels) != (first.image.shape, first.arch,
                                                             first.seed, first.levels):
                raise ValueError("a multi-image fit needs one shape, architecture and seed")
        if first.banded:
            raise ValueError("images this large are fitted one at a time, in bands")
        # the shared parts (upsamplers, theta0, groups) are the first fit's
        self.__dict__.update({k: v for k, v in first.__dict__.items()
                              if k not in ("image", "target", "latents", "coeffs")})
        self.fits = fits
        self.image = first.image
        self.target = torch.stack([f.target for f in fits])
        self.latents = [torch.stack(grids) for grids in zip(*(f.latents for f in fits))]
        self.coeffs = [torch.stack(cs) for cs in zip(*(f.coeffs for f in fits))]
        self.lams = torch.tensor(lams, dtype=torch.float32, device=self.device)
        for n, f in enumerate(fits):
            f.latents = [t[n] for t in self.latents]
            f.coeffs = [t[n] for t in self.coeffs]

    def image_states(self) -> list[list[torch.Tensor]]:
        return [f.latents + f.coeffs for f in self.fits]  # views of the stack's rows

    def loss(self, latents: list[torch.Tensor], coeffs: list[torch.Tensor], rows: slice,
             cols: slice, lam: float, steps: list[float]) -> Outputs:
        """(the sum of the images' losses, each image's MSE, each image's latent
        bits); each image's loss at its own lambda (``lam`` is not used)."""
        theta = self.theta(coeffs)  # (N, n_params): one basis product per group for all
        n_syn = self.arch.synthesis.n_params
        first = self.fits[0]

        def one(grids, theta_n, target, coeffs_n):
            out = first.synthesize(grids, theta_n[:n_syn], (rows, cols))
            mse = torch.mean((out - target[rows][:, cols]) ** 2)
            return mse, first.latent_bits(grids, theta_n[n_syn:]), first.coeff_bits(coeffs_n, steps)

        mse, bits, coeff_bits = torch.func.vmap(one, randomness="error")(
            latents, theta, self.target, coeffs)
        loss = mse + self.lams * (bits + coeff_bits) / (self.height * self.width)
        return loss.sum(), mse, bits

    def clip(self, coeffs: list[torch.Tensor]) -> None:
        """Each image's coefficient gradients clipped to CLIP_NORM on their own, as
        clip_grad_norm_ clips a single fit's."""
        grads = [c.grad for c in coeffs if c.grad is not None]
        if not grads:
            return
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
        factor = (CLIP_NORM / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(factor.view(-1, *[1] * (g.dim() - 1)))
