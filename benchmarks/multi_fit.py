"""Images fitted together (one multi-image fit) against the same images fitted alone.

    python -m benchmarks.multi_fit [--images DIR] [--limit 4] [--crop 192x128]
        [--preset default] [--iterations N] [--lam 0.004] [--device cpu]
        [--out results/multi-fit]

The first ``--limit`` images (cropped at their centre to ``--crop``, or
whole with ``--crop none``, portrait ones turned) are fitted three ways at one lambda: each alone
at the preset's seed, each alone at the next seed (the seed spread: what a
fit's J varies by for reasons that do not matter), and all together. For
each image it prints the file's J (MSE of the 8-bit decode on 0..1 pixels +
lambda * the file's bits / pixels), the batched file's difference from the
single one, and the seed spread; then the wall time of the singles and of
the batch. The multi-image fit's target: each image within the seed spread
of its single fit, the mean J within 1 %. Writes ``OUT/multi_fit.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from pranc_codec import codec
from pranc_codec.images import load_image


def file_j(image: np.ndarray, data: bytes, lam: float) -> float:
    """MSE of the decode on 0..1 pixels + lam * the file's bits per pixel."""
    err = (codec.decode(data).astype(np.float64) - image) / 255.0
    return float(np.mean(err**2)) + lam * 8 * len(data) / (image.shape[0] * image.shape[1])


def centre_crop(image: np.ndarray, crop: tuple[int, int] | None) -> np.ndarray:
    """The WxH ``crop`` at the image's centre; without one the whole image, a
    portrait one turned to landscape (one shape for Kodak's 24)."""
    if crop is None:
        return np.ascontiguousarray(np.rot90(image)) if image.shape[0] > image.shape[1] else image
    w, h = crop
    y, x = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return np.ascontiguousarray(image[max(0, y):y + h, max(0, x):x + w])


def against_cached(paths: list[Path], args: argparse.Namespace) -> int:
    """Whole images together (each shape its own fit) against the files benchmarks.rd
    keeps for them alone at the default preset; no seed spread, no time alone."""
    cache = args.cached / "cache" / "pranc"
    point = f"lam={args.lam}"
    single = {p: cache / p.stem / f"{point}.bin" for p in paths}
    missing = [p.stem for p, f in single.items() if not f.exists()]
    if missing:
        print(f"multi_fit: {cache} has no {point} file of {', '.join(missing)}")
        return 2
    images = [load_image(p).array for p in paths]
    start = time.perf_counter()
    batched = codec.encode_many(images, lam=args.lam, iterations=args.iterations, device=args.device)
    seconds = time.perf_counter() - start
    rows = []
    print("| image | J alone (rd's file) | J together | difference |\n|---|---|---|---|")
    for path, im, data in zip(paths, images, batched):
        ja, jb = file_j(im, single[path].read_bytes(), args.lam), file_j(im, data, args.lam)
        rows.append({"image": path.stem, "j_single": ja, "j_batched": jb})
        print(f"| {path.stem} | {ja:.6f} | {jb:.6f} | {100 * (jb / ja - 1):+.2f} % |")
    mean = statistics.mean(r["j_batched"] for r in rows) / statistics.mean(r["j_single"] for r in rows)
    print(f"mean J together against alone: {100 * (mean - 1):+.2f} %; {len(images)} images "
          f"together in {seconds:.0f} s ({seconds / len(images):.1f} s an image)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "multi_fit_cached.json").write_text(json.dumps(
        {"lam": args.lam, "rows": rows, "seconds_batched": seconds}, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/kodak"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--crop", default="192x128", help="WxH at the centre, or none")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--lam", type=float, default=0.004)
    parser.add_argument("--device")
    parser.add_argument("--out", type=Path, default=Path("results/multi-fit"))
    parser.add_argument("--cached", type=Path, metavar="RD_OUT",
                        help="the files alone from benchmarks.rd's cache in RD_OUT (codec pranc, "
                             "the default preset), whole images: only the fit together is run")
    args = parser.parse_args(argv)
    crop = None if args.crop == "none" else tuple(int(v) for v in args.crop.split("x"))
    paths = sorted(args.images.glob("*.png"))[:args.limit]
    if len(paths) < 2:
        print(f"multi_fit: fewer than two images in {args.images}")
        return 2
    if args.cached:
        if args.preset != "default":
            print("multi_fit: rd's cached pranc files are the default preset's")
            return 2
        return against_cached(paths, args)
    images = [centre_crop(load_image(p).array, crop) for p in paths]
    if len({im.shape for im in images}) > 1:
        print("multi_fit: the images differ in shape (crop them, or rotate): "
              + ", ".join(f"{p.stem} {im.shape[1]}x{im.shape[0]}" for p, im in zip(paths, images)))
        return 2
    settings = dict(preset=args.preset, lam=args.lam, iterations=args.iterations, device=args.device)
    seed = codec.settings_for(args.preset).seed

    def timed(fn):
        start = time.perf_counter()
        return fn(), time.perf_counter() - start

    single, t_single = timed(lambda: [codec.encode(im, **settings) for im in images])
    other, _ = timed(lambda: [codec.encode(im, seed=seed + 1, **settings) for im in images])
    batched, t_batched = timed(lambda: codec.encode_many(images, **settings))
    rows = []
    print("| image | J alone | J together | difference | seed spread |\n|---|---|---|---|---|")
    for path, im, a, b, c in zip(paths, images, single, batched, other):
        ja, jb, jc = (file_j(im, d, args.lam) for d in (a, b, c))
        rows.append({"image": path.stem, "j_single": ja, "j_batched": jb, "j_other_seed": jc})
        print(f"| {path.stem} | {ja:.6f} | {jb:.6f} | {100 * (jb / ja - 1):+.2f} % | "
              f"{100 * (jc / ja - 1):+.2f} % |")
    mean = statistics.mean(r["j_batched"] for r in rows) / statistics.mean(r["j_single"] for r in rows)
    print(f"mean J together against alone: {100 * (mean - 1):+.2f} %; "
          f"{len(images)} fits alone {t_single:.1f} s, together {t_batched:.1f} s "
          f"({t_single / t_batched:.2f}x)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "multi_fit.json").write_text(json.dumps(
        {"settings": settings, "crop": args.crop, "rows": rows, "seconds_single": t_single,
         "seconds_batched": t_batched}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
