"""Encode and decode time and peak memory of camera-sized photos.

    python -m benchmarks.large_image --images ../shared/data/kodak --out results/large-image
        [--sizes 12,24,48] [--presets fast,default] [--encode-args "--iterations 20"]

Each size (in megapixels: 12 is 4000x3000, 24 is 6000x4000, 48 is
8000x6000) is a mosaic of the photographs in ``--images`` at their own
resolution, no scaling: tiles of 768x512 (portrait ones turned a quarter),
in name order row by row, every other pass through the set mirrored, cut
at the right and bottom edges. It is real, sharp content, as a camera's
would be, not an upscale. For every size and preset, ``pranc-codec encode``
and ``pranc-codec decode`` each run in their own process under
``/usr/bin/time -v`` (as a user would run them; the encode includes its
own report, a decode and PSNR and MS-SSIM of the result). Rows are cached
in OUT/rows.json, so an interrupted run resumes, and each file is kept as
OUT/<size>mp-<preset>.prc (a few hundred KB), so ``--decode-again``
re-measures the decodes of a changed decoder without refitting;
OUT/large_image.md gets the table and how the time grows with the pixels.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from pranc_codec.images import write_atomic

TIME = "/usr/bin/time"
SIZES = {12: (4000, 3000), 24: (6000, 4000), 48: (8000, 6000)}
TILE = (768, 512)


def mosaic(folder: Path, width: int, height: int) -> np.ndarray:
    """A width x height mosaic of the folder's photographs at their own resolution."""
    tiles = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.height > img.width:
                img = img.rotate(90, expand=True)
            if img.size != TILE:
                img = img.crop((0, 0, *TILE))
            tiles.append(np.asarray(img))
    if not tiles:
        raise SystemExit(f"no PNG images in {folder}")
    tw, th = TILE
    out = np.empty((height, width, 3), np.uint8)
    k = 0
    for y in range(0, height, th):
        for x in range(0, width, tw):
            tile = tiles[k % len(tiles)]
            if (k // len(tiles)) % 2:
                tile = tile[:, ::-1]
            out[y:y + th, x:x + tw] = tile[:min(th, height - y), :min(tw, width - x)]
            k += 1
    return out


def measure(args: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, the command's own output) of one process."""
    result = subprocess.run([TIME, "-v", sys.executable, "-m", "pranc_codec", *args],
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", result.stderr)
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.group(1).split(":"))))
    return int(rss.group(1)) / 1024, seconds, result.stdout.strip()


def growth(rows: list[dict], preset: str, key: str) -> str:
    """The exponent k of time ~ pixels^k between the smallest and largest size measured."""
    done = sorted((r["megapixels"], r[key]) for r in rows if r["preset"] == preset)
    if len(done) < 2:
        return "n/a"
    (p0, t0), (p1, t1) = done[0], done[-1]
    return f"{math.log(t1 / t0) / math.log(p1 / p0):.2f}"


def table(rows: list[dict]) -> str:
    lines = ["| size | preset | encode (s) | encode peak (MB) | decode (s) | decode peak (MB) "
             "| bpp | PSNR (dB) |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["preset"], r["megapixels"])):
        lines.append(f"| {r['megapixels']} MP ({r['size']}) | {r['preset']} | "
                     f"{r['encode_s']:.0f} | {r['encode_mb']:.0f} | {r['decode_s']:.1f} | "
                     f"{r['decode_mb']:.0f} | {r['bpp']:.4f} | {r['psnr']:.2f} |")
    lines.append("")
    for preset in sorted({r["preset"] for r in rows}):
        lines.append(f"{preset}: time ~ pixels^k, encode k = {growth(rows, preset, 'encode_s')}, "
                     f"decode k = {growth(rows, preset, 'decode_s')}")
    return "\n".join(lines) + "\n"


def save_rows(out: Path, rows: list[dict]) -> None:
    write_atomic(out / "rows.json", (json.dumps(rows, indent=1) + "\n").encode())


def kept(out: Path, row: dict) -> Path:
    return out / f"{row['megapixels']}mp-{row['preset']}.prc"


def decode_again(rows: list[dict], out: Path) -> None:
    """Each row's decode time and memory measured again from its kept file."""
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            if kept(out, row).exists():
                row["decode_mb"], row["decode_s"], _ = measure(
                    ["decode", str(kept(out, row)), str(Path(tmp) / "out.png")])
                print(table([row]).splitlines()[2], flush=True)
    save_rows(out, rows)


def measure_missing(rows: list[dict], sizes: list[int], args: argparse.Namespace) -> None:
    """Encode and decode every size and preset ``rows`` lack, adding their rows."""
    for megapixels in sizes:
        width, height = SIZES[megapixels]
        with tempfile.TemporaryDirectory() as tmp:
            png, prc, out = (Path(tmp) / name for name in ("big.png", "big.prc", "out.png"))
            for preset in args.presets.split(","):
                if any(r["megapixels"] == megapixels and r["preset"] == preset for r in rows):
                    continue
                if not png.exists():
                    Image.fromarray(mosaic(args.images, width, height)).save(png)
                encode_mb, encode_s, report = measure(
                    ["encode", str(png), str(prc), "--preset", preset, *args.encode_args.split()])
                decode_mb, decode_s, _ = measure(["decode", str(prc), str(out)])
                quality = re.search(r"([\d.]+) bpp, PSNR ([\d.]+) dB", report)
                rows.append(dict(megapixels=megapixels, size=f"{width}x{height}", preset=preset,
                                 encode_s=encode_s, encode_mb=encode_mb, decode_s=decode_s,
                                 decode_mb=decode_mb, bpp=float(quality.group(1)),
                                 psnr=float(quality.group(2))))
                print(table(rows[-1:]).splitlines()[2], flush=True)
                if not args.encode_args:
                    args.out.mkdir(parents=True, exist_ok=True)
                    write_atomic(kept(args.out, rows[-1]), prc.read_bytes())
                    save_rows(args.out, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True,
                        help="folder of photographs to tile (e.g. the Kodak set)")
    parser.add_argument("--out", type=Path, default=Path("results/large-image"))
    parser.add_argument("--sizes", default="12,24,48", help=f"megapixels, of {sorted(SIZES)}")
    parser.add_argument("--presets", default="fast,default")
    parser.add_argument("--decode-again", action="store_true",
                        help="measure the decode of every kept file again, and only that")
    parser.add_argument("--encode-args", default="",
                        help="more encoder options, e.g. '--iterations 20' to measure the "
                             "decoder without waiting for a full fit (not cached)")
    args = parser.parse_args(argv)
    if not Path(TIME).exists():
        parser.error(f"{TIME} is needed to measure peak memory (Debian package 'time')")
    sizes = [int(v) for v in args.sizes.split(",")]
    if set(sizes) - set(SIZES):
        parser.error(f"--sizes: choose among {sorted(SIZES)}")
    cache = args.out / "rows.json"
    rows = json.loads(cache.read_text()) if cache.exists() and not args.encode_args else []
    if args.decode_again:
        decode_again(rows, args.out)
    else:
        measure_missing(rows, sizes, args)
    text = table(rows)
    print(text)
    if not args.encode_args:
        write_atomic(args.out / "large_image.md", text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
