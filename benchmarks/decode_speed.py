"""Decode time of a format v2 or v3 file, phase by phase (median of several runs).

    python -m benchmarks.decode_speed FILE.prc [FILE.prc ...] [--runs 7]

For each file: parsing and the network weights (container, coefficients,
integer theta), entropy decoding of the latent grids (the fixed-point
model and rANS), and synthesis (upsampling and the network, in bands),
each timed alone (in the decoder's threads), and the whole
``pranc_codec.decode``, timed in runs of its own. The first run of
a process also loads numba's compiled code from its cache; it is left out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba

from pranc_codec import codec
from pranc_codec.basis import netweights
from pranc_codec.latent import container
from pranc_codec.latent import decoder as latent_decoder
from pranc_codec.latent.grids import features
from pranc_codec.latent.synthesis import render


def phases(data: bytes) -> dict[str, float]:
    """Seconds of each phase of one decode."""
    times = {}
    start = time.perf_counter()
    f, arch, groups = latent_decoder.parse(data)
    syn_theta, arm_theta = arch.split(latent_decoder.weights(f, arch, groups))
    times["weights"] = time.perf_counter() - start
    start = time.perf_counter()
    grids = latent_decoder.decode_latents(f, arch.arm, arm_theta)
    times["entropy decoding"] = time.perf_counter() - start
    start = time.perf_counter()
    h = f.head
    levels = list(range(h.l0, h.l0 + h.levels))
    render(arch.synthesis, netweights.to_float(syn_theta),
           lambda r0, r1: features(grids, levels, h.width, r0, r1), h.height, h.width,
           numba.get_num_threads())  # in as many threads as the decoder's
    times["synthesis"] = time.perf_counter() - start
    return times


def whole(data: bytes) -> dict[str, float]:
    start = time.perf_counter()
    codec.decode(data)
    return {"whole decode": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="format v2 or v3 .prc files")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    for path in args.files:
        data = path.read_bytes()
        head = container.unpack(data).head
        phases(data)  # loads the compiled code
        # the whole decodes on their own first: a phase's idle BLAS threads spin a
        # while after it and would slow the decode that follows (10-40 ms measured)
        runs = [whole(data) for _ in range(args.runs)]
        runs = [{**phases(data), **w} for w in runs]
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{path.name} ({head.width}x{head.height}): " + ", ".join(
            f"{k} {v * 1000:.0f} ms" for k, v in medians.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
