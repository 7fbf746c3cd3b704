"""Decoding format v2: sections -> network weights -> latents -> pixels (numpy, numba).

The networks' coefficients are range-decoded as v1's (``entropy``), turned
into integer weights (``netweights``); each latent grid is decoded by the
fixed-point entropy model (``entropy_model``), coarsest first; the grids are
upsampled (``latents``) and the synthesis (``synthesis``) renders the image
a band of rows at a time. No torch anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import bitstream, container, entropy, entropy_model, netweights
from .container import FileV2, Head
from .entropy_model import ArmShape
from .errors import PrcFormatError
from .latents import features, grid_shapes
from .netweights import IntGroup
from .synthesis import SynthesisShape, render

# Multiply-adds of a decode: pixels x synthesis parameters and latents x
# entropy-model parameters (each under a minute on 2 cores at the cap).
MAX_SYNTHESIS_MACS = 1 << 36
MAX_ARM_MACS = 1 << 34


@dataclass(frozen=True)
class Architecture:
    """The two networks a header describes; their weights share one flat vector."""

    synthesis: SynthesisShape
    arm: ArmShape

    @classmethod
    def of(cls, h: Head) -> Architecture:
        return cls(SynthesisShape(h.levels, h.syn_width, h.syn_layers, h.syn_res, h.channels),
                   ArmShape(h.arm_context, h.arm_width, h.arm_layers))

    def layer_sizes(self) -> list[int]:
        return self.synthesis.layer_sizes() + self.arm.layer_sizes()

    @property
    def n_params(self) -> int:
        return self.synthesis.n_params + self.arm.n_params

    def init_exps(self) -> np.ndarray:
        return np.concatenate([self.synthesis.init_exps(), self.arm.init_exps()])

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(synthesis weights, entropy-model weights) of the flat vector."""
        return theta[:self.synthesis.n_params], theta[self.synthesis.n_params:]


def check_caps(h: Head) -> Architecture:
    """The architecture, once the header's decode work is known to be within the caps."""
    bitstream.check_image(h.width, h.height, h.channels)
    pixels = h.width * h.height
    arch = Architecture.of(h)
    latents = sum(r * c for r, c in grid_shapes(h.height, h.width, h.l0, h.levels))
    if pixels * arch.synthesis.n_params > MAX_SYNTHESIS_MACS:
        raise PrcFormatError(f"synthesis of {pixels} pixels through {arch.synthesis.n_params} "
                             f"parameters exceeds the cap of {MAX_SYNTHESIS_MACS} multiply-adds")
    if latents * arch.arm.n_params > MAX_ARM_MACS:
        raise PrcFormatError(f"entropy model over {latents} latents with {arch.arm.n_params} "
                             f"parameters exceeds the cap of {MAX_ARM_MACS} multiply-adds")
    return arch


def int_groups(f: FileV2, arch: Architecture) -> list[IntGroup]:
    """The header's groups laid over the flat vector, which they must cover exactly."""
    if sum(g.size for g in f.groups) != arch.n_params:
        raise PrcFormatError(f"groups cover {sum(g.size for g in f.groups)} parameters but "
                             f"the networks have {arch.n_params}")
    out, start = [], 0
    for g in f.groups:
        out.append(IntGroup(start, g.size, g.chunk, g.rank, g.step_exp))
        start += g.size
    return out


def weights(f: FileV2, arch: Architecture) -> np.ndarray:
    """The integer flat weight vector (multiples of 2^-16) a file holds."""
    groups = int_groups(f, arch)
    ints = entropy.decode(f.net_payload, [(g.laplace, g.qmax) for g in f.groups],
                          [g.n_coeffs for g in groups])
    return netweights.theta_int(f.head.seed, groups, arch.init_exps(), ints)


def decode_latents(f: FileV2, arm: ArmShape, arm_weights: np.ndarray) -> list[np.ndarray]:
    """Every grid's integers, finest first (decoded coarsest first, as stored)."""
    h = f.head
    shapes = grid_shapes(h.height, h.width, h.l0, h.levels)
    grids: list[np.ndarray] = [np.empty(0)] * h.levels
    for i in reversed(range(h.levels)):
        grids[i], problem = entropy_model.decode_grid(f.grids[i], *shapes[i], arm_weights, arm)
        if problem:
            raise PrcFormatError(f"latent grid {h.l0 + i}: its stream {problem}")
    return grids


def decode(data: bytes) -> np.ndarray:
    """The uint8 (H, W, C) image of a v2 file; PrcFormatError if it is malformed."""
    f = container.unpack(data)
    arch = check_caps(f.head)
    syn_theta, arm_theta = arch.split(weights(f, arch))
    grids = decode_latents(f, arch.arm, arm_theta)
    h = f.head
    levels = list(range(h.l0, h.l0 + h.levels))
    return render(arch.synthesis, netweights.to_float(syn_theta),
                  lambda r0, r1: features(grids, levels, h.width, r0, r1), h.height, h.width)
