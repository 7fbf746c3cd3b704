"""Ablation of the v2 codec: what each design choice is worth at equal rate.

    python -m benchmarks.ablation --images DIR --out results/ablation
        [--names kodim01,kodim05,kodim13,kodim23] [--rates 0.05,0.15,0.4 | --lams 0.06,0.01]
        [--variants "direct networks,4x iterations"]

Every variant is the default preset with some settings changed, encoded
with ``--bpp`` at each rate (so variants compare at the same file size) on
a few images, or with ``--lams`` fitted once at each rate weight lambda (no
rate search, whose fits' noise and trims blur small differences; variants
then compare along their curves: the table adds each one's BD-rate against
the default, against the direct networks and against its own networks
coded directly where that is a variant too, and the default's PSNR at the
variant's bpp). Rows are cached under OUT/cache exactly as
``benchmarks.rd`` caches them (codec ``pranc``, the variant's settings in
the point), so an interrupted run resumes. Prints, and writes to
OUT/ablation.md (OUT/ablation-lam.md), the means over the images: bpp of
the latents and of the networks (their sections of the file), whole-file
bpp, PSNR and encode seconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from pranc_codec.images import write_atomic
from pranc_codec.latent import container

from .bdrate import bd_quality, bd_rate
from .codecs import Pranc, label
from .rd import Cache, Row, images_or_exit
from .report import fmt_delta, psnr_at

DEFAULT = "default (PRANC for the largest layer)"
DIRECT = "direct networks"
ALL_DIRECT = {"min_basis": 2**30}  # every layer quantized directly, step by RD
# one basis over the whole layer instead of a block per 64 weights: each
# coefficient then moves every weight of the layer, as in PRANC's paper
DENSE = {"chunk": 1 << 16}
# name (no commas: --variants splits at them) -> settings changed from the default preset
VARIANTS = {
    DEFAULT: {},
    DIRECT: ALL_DIRECT,
    "larger PRANC synthesis (64 wide)": {"syn_width": 64},
    # where PRANC pays: the default basis-codes the second synthesis layer
    # (1640 parameters) only; until 2026-11-28 it coded every layer of 128
    # and more (synthesis 320 and 1640, entropy model 208 and 272)
    "PRANC for every layer of 128 parameters or more": {"min_basis": 128},
    "PRANC synthesis only (entropy model direct)": {"min_basis": 300},
    "PRANC at 3/4 coefficients per parameter": {"coeff_ratio": 0.75},
    # the PRANC promise, a larger network for the same bits: fewer
    # coefficients per parameter or a larger synthesis
    "PRANC at 1/3 coefficients per parameter": {"coeff_ratio": 0.33},
    "64-wide synthesis with PRANC for the largest layer at 1/3": {"syn_width": 64, "coeff_ratio": 0.33},
    "64-wide synthesis with direct networks": {"syn_width": 64, **ALL_DIRECT},
    "PRANC with a dense basis (one chunk per layer)": DENSE,
    "64-wide synthesis with a dense PRANC basis at 1/4": {"syn_width": 64, "coeff_ratio": 0.25, **DENSE},
    "3 synthesis layers with PRANC for the two largest": {"syn_layers": 3},
    "3 synthesis layers with direct networks": {"syn_layers": 3, **ALL_DIRECT},
    "entropy model: 6 neighbours": {"arm_context": 6},
    "entropy model: 8 wide (the fast preset's)": {"arm_width": 8},
    "entropy model: 24 neighbours 32 wide": {"arm_context": 24, "arm_width": 32},
    # the iteration variants are named against the 600 iterations every grid
    # had until 2026-12-08 (the half-resolution grid has 800 since)
    "whole image per iteration (stride 1) for 150 iterations": {"stride": 1, "iterations": 150},
    "stride 2 for 400 iterations": {"stride": 2, "iterations": 400},
    "1/4 iterations": {"iterations": 150},
    "4x iterations": {"iterations": 2400},
}
# settings that say how the networks are coded, not what they are
CODING = ("min_basis", "coeff_ratio", "chunk")
NAMES = "kodim01,kodim05,kodim13,kodim23"
RATES = "0.05,0.15,0.4"
LAMS = "0.06,0.025,0.01,0.004"  # the Kodak curve's half-resolution lambdas (about 0.05-0.25 bpp)


def section_bpp(data: bytes) -> tuple[float, float]:
    """(bits per pixel of the latent grids, of the networks' coefficients)."""
    f = container.unpack(data)
    pixels = f.head.width * f.head.height
    return 8 * f.latent_bytes / pixels, 8 * len(f.net_payload) / pixels


_COLUMNS = "| latents bpp | networks bpp | bpp | PSNR (dB) | encode (s) |"


def _head(row: str) -> str:
    """A table's header row and the separator row under it, one cell per column."""
    return row + "\n" + "|---" * (row.count("|") - 1) + "|"


@dataclass(frozen=True)
class Mode:
    """How variants are encoded: to target rates (--rates) or at lambdas (--lams)."""
    known: str  # points always looked up in the cache for the table
    header: str
    output: str
    how: str


MODES = {"bpp": Mode(RATES, _head(f"| variant | target bpp {_COLUMNS}"),
                     "ablation.md", "encoded with --bpp at the target rate"),
         "lam": Mode(LAMS, _head(f"| variant | lambda {_COLUMNS} default at this bpp (dB) |"),
                     "ablation-lam.md", "fitted once at each lambda")}


def _point(name: str, key: str, value: float) -> dict:
    return {key: value, **VARIANTS[name]}


def _line(cache: Cache, name: str, key: str, value: float, rows: list[Row],
          default: list[dict] | None = None) -> str:
    """One table row: the means over the images of a variant at a point, and
    the ``default`` curve's PSNR at its bpp where one is given."""
    point = label(_point(name, key, value))
    split = [section_bpp(cache.file(Pranc.name, r.image, point)) for r in rows]
    mean = statistics.fmean
    p = _mean_point(rows)
    bpp, db = p["bpp"], p["psnr-rgb"]
    line = (f"| {name} | {value} | {mean(s[0] for s in split):.4f} | "
            f"{mean(s[1] for s in split):.4f} | {bpp:.4f} | {db:.2f} | "
            f"{mean(r.encode_s for r in rows):.0f} |")
    if default is None:
        return line
    at = psnr_at(default, bpp)
    return line + (" outside its range |" if at is None else f" {at:.2f} ({db - at:+.2f}) |")


def _mean_point(rows: list[Row]) -> dict:
    """Mean bpp and PSNR over the images, as report.psnr_at reads a curve's points."""
    return {"bpp": statistics.fmean(r.bpp for r in rows),
            "psnr-rgb": statistics.fmean(r.psnr for r in rows)}


def _bd(ref: list[dict], points: list[dict]) -> str:
    """Bjontegaard rate and PSNR deltas of a curve against a reference, as two cells."""
    args = ([p["bpp"] for p in ref], [p["psnr-rgb"] for p in ref],
            [p["bpp"] for p in points], [p["psnr-rgb"] for p in points])
    return f"{fmt_delta(bd_rate(*args), ' %')} | {fmt_delta(bd_quality(*args), ' dB')}"


def direct_twin(name: str) -> str | None:
    """The variant with the same networks, every layer coded directly, if there is one."""
    same = {k: v for k, v in VARIANTS[name].items() if k not in CODING}
    return next((n for n, s in VARIANTS.items() if s == {**same, **ALL_DIRECT} and n != name), None)


# the Bjontegaard columns: title -> the curve each variant is measured against
# (None where it has none)
REFERENCES = {
    f"BD-rate against {DEFAULT}": lambda name: DEFAULT,
    f"BD-rate against {DIRECT}": lambda name: DIRECT,
    # what PRANC coding is measured by: the same networks, coded directly
    "BD-rate against the same networks coded directly": direct_twin,
}


def _bd_lines(curves: dict[str, list[dict]]) -> list[str]:
    """Each variant's Bjontegaard deltas over the mean curves, one pair of
    cells per reference in REFERENCES; a column only where some variant has
    its reference's curve, a row only where it has a cell."""
    def ref(column: str, name: str) -> str | None:
        r = REFERENCES[column](name)
        return r if r != name and len(curves.get(r, [])) >= 2 else None

    names = [n for n, points in curves.items() if len(points) >= 2]
    columns = [c for c in REFERENCES if any(ref(c, n) for n in names)]
    head = "| variant | " + " | ".join(f"{c} | BD-PSNR" for c in columns) + " |"
    lines = ["", *_head(head).splitlines()]
    for name in names:
        refs = [ref(c, name) for c in columns]
        if any(refs):
            cells = [" | " if r is None else _bd(curves[r], curves[name]) for r in refs]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines if len(lines) > 3 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--names", default=NAMES, help="comma-separated image names")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--rates", default=RATES, help="comma-separated target bpp")
    rate.add_argument("--lams", help="comma-separated lambdas: one fit per variant and "
                                     "lambda instead of --bpp at --rates")
    parser.add_argument("--variants", help=f"comma-separated, from: {', '.join(VARIANTS)} "
                                           "(default: all)")
    args = parser.parse_args(argv)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    images = images_or_exit(parser, args.images, only=args.names)
    codec, cache = Pranc(), Cache(args.out / "cache")
    key, given = ("lam", args.lams) if args.lams else ("bpp", args.rates)
    mode = MODES[key]
    values = [float(v) for v in given.split(",")]
    print(mode.header, flush=True)
    for name in names:
        for value in values:
            rows = [cache.measured(codec, path, _point(name, key, value), keep_file=True)
                    for path in images]
            print(_line(cache, name, key, value, rows), flush=True)
    # the table holds every variant and point measured on these images with
    # the current code, so runs of a few variants add up
    found: dict[str, dict[float, list[Row]]] = {}
    for name in VARIANTS:
        # in increasing rate: lambdas from the largest
        for value in sorted(set(values) | {float(v) for v in mode.known.split(",")},
                            reverse=key == "lam"):
            rows = [cache.get(codec, path.stem, _point(name, key, value)) for path in images]
            if all(rows):
                found.setdefault(name, {})[value] = rows
    curves = {name: [_mean_point(rows) for rows in by_value.values()]
              for name, by_value in found.items()}
    default = curves.get(DEFAULT) if key == "lam" else None  # by lambda: along the curves
    lines = [mode.header] + [_line(cache, name, key, value, rows, default)
                             for name, by_value in found.items()
                             for value, rows in by_value.items()]
    if key == "lam":
        lines += _bd_lines(curves)
    header = (f"Ablation on {', '.join(p.stem for p in images)}: means over the images, "
              f"each variant {mode.how}.\n\n")
    write_atomic(args.out / mode.output, (header + "\n".join(lines) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
