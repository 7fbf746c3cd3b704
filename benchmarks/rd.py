"""Rate-distortion benchmark: every codec at its operating points on a set of images.

    python -m benchmarks.rd --images DIR --out results/kodak
        [--codecs pranc,jpeg,webp,avif,jpeg2000,coin,coin-q8] [--points SPEC ...]
        [--limit N] [--only NAME,...] [--jobs J]

For every (codec, image, point) it encodes, decodes and measures bits per
pixel (whole file), RGB PSNR, MS-SSIM and the encode and decode seconds. Each
result is cached under OUT/cache with the codec's version, so an interrupted
run resumes and a re-run recomputes only what changed. From the cache it
writes, in OUT: one CompressAI-style JSON per codec, per_image.csv,
rd-psnr.png, rd-msssim.png, comparison.png and summary.md (BD-rates of every
codec against JPEG and of each PRANC v2 preset against the others, from
benchmarks/bdrate.py).
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pranc_codec.images import load_image, write_atomic
from pranc_codec.metrics import ms_ssim, psnr

from . import bdrate, reference, report
from .codecs import (CODECS, DEFAULT_CODECS, Codec, Point, Pranc, PrancBest, PrancFast, PrancGpu,
                     label)

IMAGE_SUFFIXES = {".png", ".ppm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"}


@dataclass
class Row:
    """One (codec, image, point) measurement."""

    codec: str
    image: str
    point: str
    bytes: int
    bpp: float
    psnr: float
    ms_ssim: float | None
    encode_s: float
    decode_s: float
    version: str


@lru_cache(maxsize=4)
def _image(path: str) -> np.ndarray:
    return load_image(path).array


def measure(codec: Codec, path: str, point: Point) -> tuple[Row, bytes]:
    """Encode, decode and score one image at one point; returns the row and the file."""
    image = _image(path)
    start = time.perf_counter()
    data = codec.encode(image, point)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = codec.decode(data)
    decode_s = time.perf_counter() - start
    if decoded.shape != image.shape:
        raise RuntimeError(f"{codec.name} decoded {path} to shape {decoded.shape}, "
                           f"expected {image.shape}")
    h, w = image.shape[:2]
    row = Row(codec.name, Path(path).stem, label(point), len(data), len(data) * 8 / (h * w),
              psnr(image, decoded), ms_ssim(image, decoded), encode_s, decode_s, codec.version)
    return row, data


class Cache:
    """Per (codec, image), one JSON of rows by point, and the files of expensive codecs."""

    def __init__(self, root: Path):
        self.root = root
        self._rows: dict[Path, dict[str, dict]] = {}

    def _table(self, codec: str, image: str) -> tuple[Path, dict[str, dict]]:
        path = self.root / codec / f"{image}.json"
        if path not in self._rows:
            self._rows[path] = json.loads(path.read_text()) if path.exists() else {}
        return path, self._rows[path]

    def _file(self, codec: str, image: str, point: str) -> Path:
        return self.root / codec / image / f"{point}.bin"

    def get(self, codec: Codec, image: str, point: Point) -> Row | None:
        entry = self._table(codec.name, image)[1].get(label(point))
        return Row(**entry) if entry and entry["version"] == codec.version else None

    def put(self, row: Row, data: bytes, keep_file: bool) -> None:
        path, table = self._table(row.codec, row.image)
        if keep_file:
            self._file(row.codec, row.image, row.point).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._file(row.codec, row.image, row.point), data)
        table[row.point] = asdict(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(table, indent=1, sort_keys=True) + "\n").encode())

    def measured(self, codec: Codec, path: Path, point: Point, keep_file: bool = False) -> Row:
        """The current cached row of an image at a point, or a new measurement, cached."""
        row = self.get(codec, path.stem, point)
        if row is None:
            row, data = measure(codec, str(path), point)
            self.put(row, data, keep_file)
        return row

    def file(self, codec: str, image: str, point: str) -> bytes | None:
        path = self._file(codec, image, point)
        return path.read_bytes() if path.exists() else None


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # the jobs are the parallelism


def _measure_by_name(name: str, path: str, point: Point) -> tuple[Row, bytes]:
    return measure(CODECS[name](), path, point)


def run(codecs: list[Codec], images: list[Path], cache: Cache, jobs: int,
        progress: bool = True) -> list[Row]:
    """Every (codec, image, point), from the cache where it is current."""
    rows, cheap, expensive = [], [], []
    for codec in codecs:
        for path in images:
            for point in codec.points:
                row = cache.get(codec, path.stem, point)
                if row is not None:
                    rows.append(row)
                else:
                    (expensive if codec.expensive else cheap).append((codec, path, point))
    total = len(rows) + len(cheap) + len(expensive)
    with tqdm(total=total, initial=len(rows), disable=not progress, unit="run") as bar:
        def done(row: Row, data: bytes, keep: bool) -> None:
            cache.put(row, data, keep)
            rows.append(row)
            bar.set_postfix_str(f"{row.codec} {row.image} {row.point}")
            bar.update()

        if cheap and jobs > 1:
            # spawn, not fork: a forked child of a process that ran torch's
            # thread pool can deadlock
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, context, initializer=_worker_init) as pool:
                futures = [pool.submit(_measure_by_name, c.name, str(p), pt) for c, p, pt in cheap]
                for future in as_completed(futures):
                    done(*future.result(), keep=False)
        else:
            for codec, path, point in cheap:
                done(*measure(codec, str(path), point), keep=False)
        for codec, path, point in expensive:
            done(*measure(codec, str(path), point), keep=True)
    return rows


def average(rows: list[Row], codec: Codec, n_images: int) -> list[dict]:
    """Per point, the mean over images (points measured on every image only), by bpp."""
    points = []
    for point in codec.points:
        mine = [r for r in rows if r.codec == codec.name and r.point == label(point)]
        if len(mine) != n_images:
            continue
        ssim = [r.ms_ssim for r in mine]
        points.append({
            "point": label(point),
            "bpp": float(np.mean([r.bpp for r in mine])),
            "psnr-rgb": float(np.mean([r.psnr for r in mine])),
            "ms-ssim-rgb": None if None in ssim else float(np.mean(ssim)),
            "encoding_time": float(np.mean([r.encode_s for r in mine])),
            "decoding_time": float(np.mean([r.decode_s for r in mine])),
        })
    return sorted(points, key=lambda p: p["bpp"])


def compressai_json(codec: Codec, points: list[dict]) -> dict:
    """CompressAI's results schema: one list per metric, aligned by point."""
    keys = ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")
    return {"name": codec.name, "description": codec.description,
            "results": {k: [p[k] for p in points] for k in keys}}


def write_csv(rows: list[Row], path: Path) -> None:
    names = [f for f in Row.__dataclass_fields__ if f != "version"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for r in sorted(rows, key=lambda r: (r.codec, r.image, r.bpp)):
            writer.writerow([getattr(r, n) for n in names])


# this codec at each preset, measured against the others (and the other
# presets against the default's curve)
V2_CODECS = tuple(c.name for c in (Pranc, PrancFast, PrancBest, PrancGpu))
PRANC_ANCHORS = (Pranc.name, "webp", "avif", "jpeg2000", "jxl", *reference.PUBLISHED,
                 "pranc-siren", "coin", "coin-q8")


def bd_table(curves: dict[str, list[dict]], anchor: str) -> list[dict]:
    """BD-rate (PSNR and MS-SSIM) and BD-PSNR of every codec against ``anchor``."""
    if anchor not in curves:
        return []
    ref = curves[anchor]
    out = []
    for name, test in curves.items():
        if name == anchor:
            continue

        def column(key: str, fn=bdrate.bd_rate) -> float | None:
            if any(p[key] is None for p in ref + test):
                return None
            return fn([p["bpp"] for p in ref], [p[key] for p in ref],
                      [p["bpp"] for p in test], [p[key] for p in test])

        out.append({"codec": name, "anchor": anchor,
                    "bd_rate_psnr": column("psnr-rgb"),
                    "psnr_overlap": bdrate.overlap([p["psnr-rgb"] for p in ref],
                                                   [p["psnr-rgb"] for p in test]),
                    "bd_psnr": column("psnr-rgb", bdrate.bd_quality),
                    "bpp_overlap": bdrate.overlap([p["bpp"] for p in ref],
                                                  [p["bpp"] for p in test]),
                    "bd_rate_msssim": column("ms-ssim-rgb")})
    return out


def bd_tables(curves: dict[str, list[dict]]) -> list[dict]:
    """Every codec against JPEG, and each preset of this codec against each of the others."""
    return bd_table(curves, "jpeg") + [t for anchor in PRANC_ANCHORS for t in bd_table(curves, anchor)
                                       if t["codec"] in V2_CODECS]


def parse_points(specs: list[str]) -> dict[str, list[Point]]:
    """``codec=key=value,key=value;key=value`` -> {codec: [point, ...]}."""
    out = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep or not rest:
            raise ValueError(f"--points {spec!r}: expected CODEC=KEY=VALUE[,KEY=VALUE][;...]")
        out[name] = [parse_point(text, f"--points {spec!r}") for text in rest.split(";")]
    return out


def parse_point(text: str, where: str) -> Point:
    """``key=value,key=value`` -> {key: value}; ``where`` names the text in errors."""
    point = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{where}: {item!r} is not KEY=VALUE")
        point[key.strip()] = _number(value.strip())
    return point


def _number(text: str) -> bool | int | float | str:
    # a string "False" would be truthy: switches must arrive as booleans
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def add_image_options(parser: argparse.ArgumentParser) -> None:
    """--limit and --only, which pick the images of --images (see list_images)."""
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--only", metavar="NAMES",
                        help="only these images, comma-separated file names without suffix")


def images_or_exit(parser: argparse.ArgumentParser, directory: Path, limit: int | None = None,
                   only: str | None = None) -> list[Path]:
    """list_images, or the parser's one-line error."""
    try:
        return list_images(directory, limit, only)
    except ValueError as exc:
        parser.error(str(exc))


def list_images(directory: Path, limit: int | None, only: str | None = None) -> list[Path]:
    if not directory.is_dir():
        raise ValueError(f"--images {directory}: not a directory")
    images = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        missing = wanted - {p.stem for p in images}
        if missing:
            raise ValueError(f"--only: no image {', '.join(sorted(missing))} in {directory}")
        images = [p for p in images if p.stem in wanted]
    if not images:
        raise ValueError(f"--images {directory}: no images in it")
    return images[:limit] if limit else images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rd",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, type=Path, help="folder of images")
    parser.add_argument("--out", required=True, type=Path, help="folder for the results")
    parser.add_argument("--codecs", default=",".join(DEFAULT_CODECS),
                        help="comma-separated, from: " + ", ".join(CODECS)
                             + " (default: all but "
                             + ", ".join(n for n in CODECS if n not in DEFAULT_CODECS) + ")")
    parser.add_argument("--points", action="append", default=[], metavar="SPEC",
                        help="replace a codec's operating points, e.g. "
                             "'jpeg=quality=10;quality=50' or 'pranc=k=1500,steps=300'")
    add_image_options(parser)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes for the classical codecs (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        names = [n.strip() for n in args.codecs.split(",") if n.strip()]
        unknown = [n for n in names if n not in CODECS]
        if unknown:
            raise ValueError(f"unknown codec(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(CODECS)}")
        overrides = parse_points(args.points)
        stray = set(overrides) - set(names)
        if stray:
            raise ValueError(f"--points for codec(s) not run: {', '.join(sorted(stray))}")
        images = list_images(args.images, args.limit, args.only)
    except ValueError as exc:
        parser.error(str(exc))
    codecs = [CODECS[n](overrides.get(n)) for n in names]
    args.out.mkdir(parents=True, exist_ok=True)
    cache = Cache(args.out / "cache")
    rows = run(codecs, images, cache, max(1, args.jobs), progress=not args.quiet)

    curves = {}
    for codec in codecs:
        points = average(rows, codec, len(images))
        if points:
            curves[codec.name] = points
            result = compressai_json(codec, points)
            write_atomic(args.out / f"{codec.name}.json",
                         (json.dumps(result, indent=2) + "\n").encode())
    write_csv(rows, args.out / "per_image.csv")
    published = reference.curves({p.stem for p in images})
    curves.update(published)
    tables = bd_tables(curves)
    report.plots(curves, {c.name: c.description for c in codecs} | reference.descriptions(),
                 args.out, dashed=set(published))
    report.comparison(codecs, images[:2], rows, cache, args.out / "comparison.png")
    report.summary(curves, tables, len(images), args.images, args.out / "summary.md")
    print(f"results in {args.out}: {', '.join(sorted(p.name for p in args.out.iterdir()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
