"""The direct-weights baseline (COIN, Dupont et al. 2021): the same SIREN, no basis.

The network is fitted on its weights with the codec's own fit loop (every
layer a direct group, so theta = theta0 + values and Adam sees the weights
themselves), then stored whole:

- ``fp16``: every weight as a 16-bit float, as COIN does;
- ``q8``: per layer, weights rounded to 8 bits (step = max |w| / 127) and
  range-coded with the codec's Laplace model, COIN++-style.

A small fixed header (image size, architecture, per-layer step and model) is
counted in the bits like everything else.
"""
from __future__ import annotations

import struct

import numpy as np
import torch

from pranc_codec.basis import coefficients
from pranc_codec.basis.groups import Group
from pranc_codec.basis.product import Reparam
from pranc_codec.codec import settings_for
from pranc_codec.siren.fit import FitSettings, Problem, train
from pranc_codec.siren.inr import Siren, render

VARIANTS = ("fp16", "q8")
_HEAD = struct.Struct("<BHHBHBf")  # variant, width, height, channels, inr width, depth, w0
_LAYER = struct.Struct("<fHH")  # q8: step, Laplace t, qmax


W0 = float(np.float32(settings_for(arch="siren").w0))  # the codec's SIREN frequency


def fit_weights(image: np.ndarray, width: int, depth: int, steps: int, seed: int) -> np.ndarray:
    """The flat float32 weights of a SIREN fitted to a uint8 (H, W, C) image."""
    net = Siren(width, depth, image.shape[2], W0)
    groups, start = [], 0
    for n in net.layer_sizes():
        groups.append(Group(start, n))
        start += n
    reparam = Reparam(seed, groups, net.init_bounds())
    problem = Problem(net, reparam, image)
    values = train(problem, [torch.zeros(g.size) for g in groups],
                   FitSettings.of(settings_for(arch="siren", steps=steps)), steps, seed=seed)
    return reparam.theta(values).detach().numpy()


def encode(image: np.ndarray, variant: str, width: int, depth: int, steps: int,
           seed: int = 0x5EED) -> bytes:
    if variant not in VARIANTS:
        raise ValueError(f"unknown COIN variant {variant!r}")
    theta = fit_weights(image, width, depth, steps, seed)
    h, w, c = image.shape
    head = _HEAD.pack(VARIANTS.index(variant), w, h, c, width, depth, W0)
    if variant == "fp16":
        return head + theta.astype("<f2").tobytes()
    sizes = Siren(width, depth, c, W0).layer_sizes()
    layers = np.split(theta, np.cumsum(sizes)[:-1])
    qsteps = [float(np.float32(max(float(np.abs(v).max()), 1e-12) / 127)) for v in layers]
    ints = [coefficients.quantize(v, s) for v, s in zip(layers, qsteps)]
    models = [coefficients.fit_laplace(q) for q in ints]
    table = b"".join(_LAYER.pack(s, t, qmax) for s, (t, qmax) in zip(qsteps, models))
    return head + table + coefficients.encode(ints, models)


def decode(data: bytes) -> np.ndarray:
    variant, w, h, c, width, depth, w0 = _HEAD.unpack_from(data)
    net = Siren(width, depth, c, w0)
    body = data[_HEAD.size:]
    if VARIANTS[variant] == "fp16":
        theta = np.frombuffer(body, dtype="<f2").astype(np.float32)
    else:
        sizes = net.layer_sizes()
        layers = [_LAYER.unpack_from(body, i * _LAYER.size) for i in range(len(sizes))]
        payload = body[len(sizes) * _LAYER.size:]
        ints = coefficients.decode(payload, [(t, qmax) for _, t, qmax in layers], sizes)
        theta = np.concatenate([coefficients.dequantize(q, s) for q, (s, _, _) in zip(ints, layers)])
    return render(net, theta, h, w)
