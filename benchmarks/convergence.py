"""Do iterations turn into quality? Whole-image fits of growing length on crops.

    python -m benchmarks.convergence --images ../shared/data/kodak --out results/convergence
        [--names kodim01,kodim05,kodim14,kodim21] [--lams 0.004,0.00025]
        [--iterations 600,2500,10000] [--preset default] [--set KEY=VALUE ...]
        [--device cpu] [--jobs 1]

Each image's centre crop of 384x256 is fitted at every lambda and every
length, on the whole crop at every iteration (stride 1), the preset's
settings otherwise. J is the file's: MSE (0..1) of the decoded image plus
lambda times its bits per pixel, which the fit minimises. A longer fit
should end lower; the table gives J at each length and the change from the
shortest. ``--set`` changes a setting of the preset (a variant: its rows
are a table of their own). Rows are cached in OUT/rows.json, keyed by the
codec's code as well (an interrupted run resumes; a changed fit is fitted
again), and the table is written to OUT/convergence-PRESET-DEVICE.md
(-VARIANT where --set is given). ``--jobs`` fits
run at once, each in its own process, sharing a GPU (encode seconds are
then those of a shared device; on an H200 processes time-slice, so this
adds little: benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from pranc_codec import codec
from pranc_codec.images import load_image, write_atomic
from pranc_codec.metrics import psnr

from .codecs import Pranc, label
from .rd import images_or_exit, parse_point

CROP = (384, 256)  # width, height
NAMES = "kodim01,kodim05,kodim14,kodim21"  # tuned on kodim01 and kodim05 only


def crop(path: Path) -> np.ndarray:
    """The centre CROP of an image."""
    pixels = load_image(str(path)).array
    (w, h), (H, W) = CROP, pixels.shape[:2]
    y, x = (H - h) // 2, (W - w) // 2
    return np.ascontiguousarray(pixels[y:y + h, x:x + w])


def fit_one(path: str, lam: float, iterations: int, preset: str, device: str,
            settings: dict, version: str) -> dict:
    """One whole-image fit's row: bpp, PSNR and J of its file, and its seconds."""
    image = crop(Path(path))
    start = time.perf_counter()
    data = codec.encode(image, preset, **(dict(lam=lam, iterations=iterations, stride=1,
                                               device=device) | settings))
    seconds = time.perf_counter() - start
    decoded = codec.decode(data)
    bpp = 8 * len(data) / (image.shape[0] * image.shape[1])
    quality = psnr(image, decoded)
    return dict(image=Path(path).stem, lam=lam, iterations=iterations, preset=preset,
                device=device, variant=label(settings), version=version, bpp=bpp, psnr=quality, j=10 ** (-quality / 10) + lam * bpp,
                seconds=seconds)


def table(rows: list[dict], lengths: list[int]) -> str:
    """J at each length per (image, lambda), and its change from the shortest."""
    head = ["image", "lambda", *[f"J at {n}" for n in lengths],
            *[f"{n} vs {lengths[0]}" for n in lengths[1:]], "falls at each step"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keyed = {(r["image"], r["lam"], r["iterations"]): r for r in rows}
    for image, lam in sorted({(r["image"], r["lam"]) for r in rows}, key=lambda k: (k[0], -k[1])):
        js = [keyed[image, lam, n]["j"] if (image, lam, n) in keyed else None for n in lengths]
        cells = [f"{j:.4e}" if j is not None else "-" for j in js]
        changes = [f"{100 * (j / js[0] - 1):+.1f} %" if j is not None and js[0] else "-"
                   for j in js[1:]]
        done = [j for j in js if j is not None]
        falls = "yes" if all(b < a for a, b in zip(done, done[1:])) else "no"
        lines.append(f"| {image} | {lam:g} | " + " | ".join(cells + changes) + f" | {falls} |")
    secs = {n: [r["seconds"] for r in rows if r["iterations"] == n] for n in lengths}
    lines.append("")
    lines.append("median encode seconds: " + ", ".join(
        f"{n} iterations {sorted(s)[len(s) // 2]:.0f} s" for n, s in secs.items() if s))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("results/convergence"))
    parser.add_argument("--names", default=NAMES, help="images (stems) to crop")
    parser.add_argument("--lams", default="0.004,0.00025")
    parser.add_argument("--iterations", default="600,2500,10000", help="fit lengths")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the preset changed, e.g. syn_res=2 (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="fits at once, one process each")
    args = parser.parse_args(argv)
    paths = images_or_exit(parser, args.images, only=args.names)
    lams = [float(v) for v in args.lams.split(",")]
    lengths = sorted(int(v) for v in args.iterations.split(","))
    try:
        settings = parse_point(",".join(args.set), "--set") if args.set else {}
    except ValueError as exc:
        parser.error(str(exc))
    variant, version = label(settings), Pranc().version
    cache = args.out / "rows.json"
    rows = json.loads(cache.read_text()) if cache.exists() else []

    def key(r: dict) -> tuple:
        return r["preset"], r["device"], r["variant"], r["version"]

    mine = (args.preset, args.device, variant, version)
    done = {(r["image"], r["lam"], r["iterations"]) for r in rows if key(r) == mine}
    todo = [(str(p), lam, n) for n in lengths for p in paths for lam in lams
            if (p.stem, lam, n) not in done]
    # longest first, so the fits that set the run's length start at once
    todo.sort(key=lambda t: -t[2])
    args.out.mkdir(parents=True, exist_ok=True)
    # spawn: a CUDA context does not survive a fork
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(fit_one, *t, args.preset, args.device, settings, version)
                   for t in todo]
        for future in as_completed(futures):
            row = future.result()
            rows.append(row)
            print(f"{row['image']} lambda {row['lam']:g} {row['iterations']} iterations: "
                  f"J {row['j']:.4e}, {row['bpp']:.4f} bpp, {row['psnr']:.2f} dB, "
                  f"{row['seconds']:.0f} s", flush=True)
            write_atomic(cache, (json.dumps(rows, indent=1) + "\n").encode())
    text = table([r for r in rows if key(r) == mine], lengths)
    print(text)
    name = "-".join(["convergence", args.preset, args.device.split(":")[0]]
                    + ([variant.replace(",", "-")] if variant else []))
    write_atomic(args.out / f"{name}.md", text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
