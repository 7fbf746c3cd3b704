"""Rate control: how close ``--bpp`` lands on every image of a set.

    python -m benchmarks.rate_control --images DIR --out results/rate-control
        [--targets 0.25] [--preset default] [--limit N] [--only NAME,...]

Encodes every image at each target bpp with the preset (``encode(image,
bpp=X, preset=P)``, as ``pranc-codec encode --bpp X --preset P`` does) and
prints, and writes to OUT/rate_control.md, one row per image and target:
the file's bpp, its error relative to the target, PSNR and encode seconds;
then per target the files within 5 %, the largest error and the median
seconds. Rows are cached under OUT/cache as ``benchmarks.rd`` caches them
(codec ``pranc``), so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from pranc_codec.images import write_atomic
from pranc_codec.latent.rate import BPP_PROMISE

from .codecs import Pranc
from .rd import Cache, add_image_options, images_or_exit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--targets", default="0.25", help="comma-separated target bpp")
    parser.add_argument("--preset", default="default", help="encoder preset (default: default)")
    add_image_options(parser)
    args = parser.parse_args(argv)
    images = images_or_exit(parser, args.images, args.limit, args.only)
    codec, cache = Pranc(), Cache(args.out / "cache")
    lines = ["| image | target bpp | file bpp | error | PSNR (dB) | encode (s) |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    summary = ["| target bpp | files | within 5 % | largest error | mean PSNR (dB) | median encode (s) |",
               "|---|---|---|---|---|---|"]
    for target in (float(t) for t in args.targets.split(",")):
        point = {"bpp": target, "preset": args.preset}
        rows = []
        for path in images:
            row = cache.measured(codec, path, point)
            rows.append(row)
            lines.append(f"| {row.image} | {target} | {row.bpp:.4f} | "
                         f"{100 * (row.bpp / target - 1):+.1f} % | {row.psnr:.2f} | {row.encode_s:.0f} |")
            print(lines[-1], flush=True)
        errors = [abs(r.bpp / target - 1) for r in rows]
        summary.append(f"| {target} | {len(rows)} | {sum(e <= BPP_PROMISE for e in errors)} | "
                       f"{100 * max(errors):.1f} % | {statistics.fmean(r.psnr for r in rows):.2f} | "
                       f"{statistics.median(r.encode_s for r in rows):.0f} |")
    print("\n" + "\n".join(summary))
    header = f"`--bpp` at preset {args.preset} on {len(images)} images of {args.images.name}.\n\n"
    text = header + "\n".join(summary) + "\n\n" + "\n".join(lines) + "\n"
    write_atomic(args.out / "rate_control.md", text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
