"""Ablation of the v2 codec: what each design choice is worth at equal rate.

    python -m benchmarks.ablation --images DIR --out results/ablation
        [--names kodim01,kodim05,kodim13,kodim23] [--rates 0.05,0.15,0.4]
        [--variants "direct networks,4x iterations"]

Every variant is the default preset with some settings changed, encoded
with ``--bpp`` at each rate (so variants compare at the same file size) on
a few images. Rows are cached under OUT/cache exactly as ``benchmarks.rd``
caches them (codec ``pranc``, the variant's settings in the point), so an
interrupted run resumes. Prints, and writes to OUT/ablation.md, the means
over the images: bpp of the latents and of the networks (their sections of
the file), whole-file bpp, PSNR and encode seconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from pranc_codec import container
from pranc_codec.images import write_atomic

from .codecs import Pranc, label
from .rd import Cache, Row, images_or_exit

# name (no commas: --variants splits at them) -> settings changed from the default preset
VARIANTS = {
    "default (PRANC networks)": {},
    "direct networks": {"min_basis": 2**30},  # every layer quantized directly, step by RD
    "larger PRANC synthesis (64 wide)": {"syn_width": 64},
    "entropy model: 6 neighbours": {"arm_context": 6},
    "entropy model: 8 wide (the fast preset's)": {"arm_width": 8},
    "entropy model: 24 neighbours 32 wide": {"arm_context": 24, "arm_width": 32},
    "whole image per iteration (stride 1) for 150 iterations": {"stride": 1, "iterations": 150},
    "stride 2 for 400 iterations": {"stride": 2, "iterations": 400},
    "1/4 iterations": {"iterations": 150},
    "4x iterations": {"iterations": 2400},
}
NAMES = "kodim01,kodim05,kodim13,kodim23"
RATES = "0.05,0.15,0.4"


def section_bpp(data: bytes) -> tuple[float, float]:
    """(bits per pixel of the latent grids, of the networks' coefficients)."""
    f = container.unpack(data)
    pixels = f.head.width * f.head.height
    return 8 * sum(len(g) for g in f.grids) / pixels, 8 * len(f.net_payload) / pixels


HEADER = ("| variant | target bpp | latents bpp | networks bpp | bpp | PSNR (dB) | encode (s) |\n"
          "|---|---|---|---|---|---|---|")


def _point(name: str, rate: float) -> dict:
    return {"bpp": rate, **VARIANTS[name]}


def _line(cache: Cache, name: str, rate: float, rows: list[Row]) -> str:
    """One table row: the means over the images of a variant at a rate."""
    split = [section_bpp(cache.file(Pranc.name, r.image, label(_point(name, rate)))) for r in rows]
    mean = statistics.fmean
    return (f"| {name} | {rate} | {mean(s[0] for s in split):.4f} | "
            f"{mean(s[1] for s in split):.4f} | {mean(r.bpp for r in rows):.4f} | "
            f"{mean(r.psnr for r in rows):.2f} | {mean(r.encode_s for r in rows):.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--names", default=NAMES, help="comma-separated image names")
    parser.add_argument("--rates", default=RATES, help="comma-separated target bpp")
    parser.add_argument("--variants", help=f"comma-separated, from: {', '.join(VARIANTS)} "
                                           "(default: all)")
    args = parser.parse_args(argv)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    images = images_or_exit(parser, args.images, only=args.names)
    codec, cache = Pranc(), Cache(args.out / "cache")
    rates = [float(r) for r in args.rates.split(",")]
    print(HEADER, flush=True)
    for name in names:
        for rate in rates:
            rows = [cache.measured(codec, path, _point(name, rate), keep_file=True) for path in images]
            print(_line(cache, name, rate, rows), flush=True)
    # the table holds every variant and rate measured on these images with
    # the current code, so runs of a few variants add up
    lines = [HEADER]
    for name in VARIANTS:
        for rate in sorted(set(rates) | {float(r) for r in RATES.split(",")}):
            rows = [cache.get(codec, path.stem, _point(name, rate)) for path in images]
            if all(rows):
                lines.append(_line(cache, name, rate, rows))
    header = (f"Ablation on {', '.join(p.stem for p in images)}: means over the images, "
              "each variant encoded with --bpp at the target rate.\n\n")
    write_atomic(args.out / "ablation.md", (header + "\n".join(lines) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
