"""Decoding formats v2 and v3: sections -> network weights -> latents -> pixels (numpy, numba).

The networks' coefficients are range-decoded as v1's (``basis.coefficients``),
turned into integer weights (``basis.netweights``); the latent grids are decoded
by the fixed-point entropy model (``entropy_model``) at the file version's
precision, coarsest first; the grids
are upsampled (``grids``) and the synthesis (``synthesis``) renders the image
a band of rows at a time. On several threads, a whole v3 file's bands render
while its stream is still decoding (``GridsAsDecoded``), each band once the
grid rows it reads are there. No torch anywhere.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..basis import coefficients, netweights
from ..basis.netweights import IntGroup
from ..errors import PrcFormatError
from ..fileformat import check_image
from . import container, entropy_model
from .architecture import Architecture
from .container import Head, LatentFile
from .entropy_model import ArmShape
from .grids import features, grid_shapes, taps
from .synthesis import render

# The work of a decode grows with the pixels a file announces: per pixel,
# the synthesis's multiply-adds (its parameters), per latent the entropy
# model's, each capped at about four times the largest preset's (2,124 and
# 514), so a 50 MP photo at any preset decodes and a small hostile file
# cannot ask for more than a few times its pixels' worth. Below a small
# total (a second or two on 2 cores) any network is accepted: small images
# coded with larger networks than the presets'.
MAX_SYNTHESIS_MACS_PER_PIXEL = 1 << 13
MAX_ARM_MACS_PER_LATENT = 1 << 11
FREE_SYNTHESIS_MACS = 1 << 32
FREE_ARM_MACS = 1 << 30


def check_caps(h: Head) -> Architecture:
    """The architecture, once the header's decode work is known to be within the caps."""
    check_image(h.width, h.height, h.channels)
    pixels = h.width * h.height
    arch = Architecture.of(h)
    latents = sum(r * c for r, c in grid_shapes(h.height, h.width, h.l0, h.levels))
    if arch.synthesis.n_params > MAX_SYNTHESIS_MACS_PER_PIXEL \
            and pixels * arch.synthesis.n_params > FREE_SYNTHESIS_MACS:
        raise PrcFormatError(f"a synthesis of {arch.synthesis.n_params} multiply-adds per pixel "
                             f"exceeds the cap of {MAX_SYNTHESIS_MACS_PER_PIXEL} for "
                             f"{h.width}x{h.height} pixels")
    if arch.arm.n_params > MAX_ARM_MACS_PER_LATENT \
            and latents * arch.arm.n_params > FREE_ARM_MACS:
        raise PrcFormatError(f"an entropy model of {arch.arm.n_params} multiply-adds per latent "
                             f"exceeds the cap of {MAX_ARM_MACS_PER_LATENT} for {latents} latents")
    return arch


def int_groups(f: LatentFile, arch: Architecture) -> list[IntGroup]:
    """The header's groups laid over the flat vector, which they must cover exactly."""
    if sum(g.size for g in f.groups) != arch.n_params:
        raise PrcFormatError(f"groups cover {sum(g.size for g in f.groups)} parameters but "
                             f"the networks have {arch.n_params}")
    out, start = [], 0
    for g in f.groups:
        out.append(IntGroup(start, g.size, g.chunk, g.rank, g.step_exp))
        start += g.size
    return out


def weights(f: LatentFile, arch: Architecture, groups: list[IntGroup]) -> np.ndarray:
    """The integer flat weight vector (multiples of 2^-16) a file holds."""
    ints = coefficients.decode(f.net_payload, [(g.laplace, g.qmax) for g in f.groups],
                          [g.n_coeffs for g in groups])
    return netweights.theta_int(f.head.seed, groups, arch.init_exps(), ints)


def _stream_error(what: str, wrong: str) -> PrcFormatError:
    """The error for latent ``what``, what entropy_model.decode_grids found wrong with its stream."""
    return PrcFormatError(f"latent {what}: its stream {wrong}")


def decode_latents(f: LatentFile, arm: ArmShape, arm_weights: np.ndarray,
                   threads: int = 1) -> list[np.ndarray]:
    """Every grid's integers as float32 (what the upsampling reads, converted once
    rather than per band of rows), finest first; a grid the file lacks (cut
    short) at the entropy model's mean. A v2 file's grids stand alone, so
    ``threads`` of them decode at once; a v3 file's share one stream."""
    h = f.head
    shapes = grid_shapes(h.height, h.width, h.l0, h.levels)
    precision = entropy_model.PRECISION[f.version]

    def mean(i: int) -> np.ndarray:
        return entropy_model.mean_grid(*shapes[i], arm_weights, arm, precision)

    if f.version == 2:
        def one(i: int) -> np.ndarray:
            if f.streams[i] is None:
                return mean(i).astype(np.float32)
            (grid,), wrong, _ = entropy_model.decode_grids(f.streams[i], [shapes[i]], arm_weights,
                                                           arm, precision)
            if wrong:
                raise _stream_error(f"grid {h.l0 + i}", wrong)
            return grid.astype(np.float32)

        if threads > 1:
            with ThreadPoolExecutor(min(threads, h.levels)) as pool:
                return list(pool.map(one, range(h.levels)))
        return [one(i) for i in range(h.levels)]
    grids, wrong, whole = [], "is missing", 0
    if f.streams[0] is not None:
        grids, wrong, whole = entropy_model.decode_grids(f.streams[0], shapes[::-1], arm_weights,
                                                         arm, precision)
    if wrong and f.whole:
        raise _stream_error("grids", wrong)
    if not wrong:
        whole = h.levels
    # a stream cut short: the grids decoded before it ran out, the finer ones at the mean
    coarse = list(grids[:whole]) + [mean(i) for i in reversed(range(h.levels - whole))]
    return [g.astype(np.float32) for g in coarse[::-1]]


def parse(data: bytes, partial: bool = False) -> tuple[LatentFile, Architecture, list[IntGroup]]:
    """The file's sections, networks and coefficient groups, once every check that
    needs no decoding holds: sections and CRCs, fields, caps (``partial``: see
    container.unpack)."""
    f = container.unpack(data, partial)
    arch = check_caps(f.head)
    return f, arch, int_groups(f, arch)


class GridsAsDecoded:
    """A whole v3 file's grids as float32, each row there as soon as the stream has
    given it: ``rows`` waits for what a band of the image reads, so the
    synthesis renders the first bands while the finest grid (the stream's
    last, three quarters of its latents) is still being decoded. At 1 bpp
    on a Kodak image the stream takes longer than the synthesis (95 ms
    against 59 on 2 threads), so the decode was their sum."""

    def __init__(self, f: LatentFile, arm: ArmShape, arm_weights: np.ndarray):
        h = f.head
        self.shapes = grid_shapes(h.height, h.width, h.l0, h.levels)
        self.levels = list(range(h.l0, h.l0 + h.levels))
        self.width = h.width
        self.grids = [np.zeros(shape, dtype=np.float32) for shape in self.shapes]
        self.ready = [0] * len(self.shapes)  # rows of each grid decoded
        self.error: BaseException | None = None  # raised by result()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._decode, args=(f, arm, arm_weights))
        self.thread.start()

    def _decode(self, f: LatentFile, arm: ArmShape, arm_weights: np.ndarray) -> None:
        def rows_done(k: int, rows: np.ndarray, y0: int) -> None:
            i = len(self.shapes) - 1 - k  # the stream codes the coarsest grid first
            self.grids[i][y0:y0 + len(rows)] = rows
            with self.changed:
                self.ready[i] = y0 + len(rows)
                self.changed.notify_all()

        try:
            _, wrong, _ = entropy_model.decode_grids(
                f.streams[0], self.shapes[::-1], arm_weights, arm,
                entropy_model.PRECISION[f.version], rows_done)
            self.error = _stream_error("grids", wrong) if wrong else None
        except BaseException as e:  # raised in the caller's thread
            self.error = e
        finally:  # a stream gone wrong hands on nothing more: let the bands finish
            with self.changed:
                self.ready = [r for r, _ in self.shapes]
                self.changed.notify_all()

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """The synthesis input of image rows r0 .. r1 - 1 (grids.features), once
        the grid rows it reads are decoded."""
        need = [int(taps(r1 - r0, rows, level, r0)[1].max()) + 1
                for (rows, _), level in zip(self.shapes, self.levels)]
        with self.changed:
            self.changed.wait_for(lambda: all(r >= n for r, n in zip(self.ready, need)))
        return features(self.grids, self.levels, self.width, r0, r1)

    def result(self) -> None:
        """Once the image is rendered: PrcFormatError if the stream was malformed."""
        self.thread.join()
        if self.error:
            raise self.error


def decode(data: bytes, partial: bool = False) -> np.ndarray:
    """The uint8 (H, W, C) image of a v2 or v3 file; PrcFormatError if it is
    malformed. With ``partial``, a file cut short after its networks decodes
    from the grids it holds whole, the finer ones at the entropy model's mean."""
    f, arch, groups = parse(data, partial)
    syn_theta, arm_theta = arch.split(weights(f, arch, groups))
    threads = numba.get_num_threads()  # the CPUs, or the one a batch worker is given
    h = f.head
    syn_float = netweights.to_float(syn_theta)
    if f.version >= 3 and f.whole and f.streams[0] is not None and threads > 1:
        grids = GridsAsDecoded(f, arch.arm, arm_theta)
        image = render(arch.synthesis, syn_float, grids.rows, h.height, h.width, threads)
        grids.result()
        return image
    latents = decode_latents(f, arch.arm, arm_theta, threads)
    levels = list(range(h.l0, h.l0 + h.levels))
    return render(arch.synthesis, syn_float,
                  lambda r0, r1: features(latents, levels, h.width, r0, r1), h.height, h.width,
                  threads)
