"""Decoding format v1: header -> coefficients -> theta -> pixels (numpy only)."""
from __future__ import annotations

import numpy as np

from ..basis import coefficients, groups
from ..basis.groups import Group
from ..errors import PrcFormatError
from . import bitstream
from .bitstream import Header
from .inr import Siren, render


def network(header: Header) -> tuple[Siren, list[Group]]:
    """The INR and the coefficient groups a header describes."""
    net = Siren(header.inr_width, header.inr_depth, header.channels, header.w0)
    if sum(g.size for g in header.groups) != net.n_params:
        raise PrcFormatError(
            f"groups cover {sum(g.size for g in header.groups)} parameters but a SIREN of "
            f"width {net.width} and depth {net.depth} has {net.n_params}")
    layout, start = [], 0
    for g in header.groups:
        layout.append(Group(start, g.size, g.chunk, g.rank, g.scale))
        start += g.size
    return net, layout


def parse(data: bytes) -> tuple[Header, bytes, Siren, list[Group]]:
    """(header, payload, network, groups) of a v1 file, once every check that needs
    no decoding holds: layout, CRC, fields, caps."""
    header, payload = bitstream.unpack(data)
    return (header, payload, *network(header))


def decode(data: bytes) -> np.ndarray:
    """The uint8 (H, W, C) image of a v1 file; PrcFormatError if it is malformed."""
    header, payload, net, layout = parse(data)
    models = [(g.laplace, g.qmax) for g in header.groups]
    ints = coefficients.decode(payload, models, [g.n_coeffs for g in layout])
    coeffs = [coefficients.dequantize(q, g.step) for q, g in zip(ints, header.groups)]
    theta = groups.theta(header.seed, layout, net.init_bounds(), coeffs)
    return render(net, theta, header.height, header.width)
