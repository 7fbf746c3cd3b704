"""The encoder: fit an image, quantize, range-code and pack it (torch).

codec.encode checks the image and the settings, then calls fit_and_pack.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from . import bitstream, entropy
from .basis import Reparam
from .bitstream import GroupHeader, Header
from .codec import Settings, plan_groups
from .fit import FitSettings, Problem, evaluate, fake_quantize, train
from .inr import Siren


def fit_and_pack(image: np.ndarray, s: Settings, progress: bool = False) -> bytes:
    """The .prc bytes of a checked uint8 (H, W, C) image under settings s."""
    net = Siren(s.width, s.depth, image.shape[2], float(np.float32(s.w0)))
    groups = plan_groups(net, s)
    problem = Problem(net, Reparam(s.seed, groups, net.init_bounds()), image)
    fit = FitSettings.of(s)
    zeros = [torch.zeros(g.n_coeffs) for g in groups]
    coeffs = train(problem, zeros, fit, s.steps, seed=s.seed, progress=progress)
    if progress:
        tqdm.write(f"fit: {evaluate(problem, coeffs):.2f} dB before quantization")

    qsteps = [entropy.quant_step(c.numpy(), s.rel_step_direct if g.direct else s.rel_step)
              for c, g in zip(coeffs, groups)]
    qat_steps = int(s.steps * s.qat_fraction)
    if qat_steps:
        coeffs = train(problem, coeffs, fit, qat_steps, lr_scale=s.qat_lr_scale,
                       transform=lambda i, v: fake_quantize(v, qsteps[i]),
                       seed=s.seed + 1, desc="quantization-aware", progress=progress)
    ints = [entropy.quantize(c.numpy(), st) for c, st in zip(coeffs, qsteps)]
    models = [entropy.fit_laplace(q) for q in ints]
    payload = entropy.encode(ints, models)
    header = Header(
        width=image.shape[1], height=image.shape[0], channels=image.shape[2],
        inr_width=s.width, inr_depth=s.depth, w0=net.w0, seed=s.seed,
        groups=tuple(
            GroupHeader(size=g.size, chunk=g.chunk, rank=g.rank, scale=g.scale,
                        step=st, laplace=t, qmax=qmax)
            for g, st, (t, qmax) in zip(groups, qsteps, models)
        ),
    )
    return bitstream.pack(header, payload)
