"""Cool-chic's own encoder on the convergence crops, measured on this machine.

    python -m benchmarks.peer_coolchic --coolchic PATH [--python PYTHON]
        --images ../shared/data/kodak --out results/peer-coolchic
        [--names kodim01,kodim05,kodim14,kodim21] [--lams 0.004,0.00025]
        [--iterations 2000] [--dec-cfg cfg/dec/intra/hop.cfg]

Given a local checkout of Cool-chic (github.com/Orange-OpenSource/Cool-Chic,
installed in its own environment, whose Python ``--python`` names), each
crop of ``benchmarks.convergence`` is encoded by its ``cc_encode.py`` at
each lambda and ``--iterations`` main-phase iterations and decoded by its
``cc_decode.py``, each in a process of its own; nothing of Cool-chic is
imported here. Bits, PSNR and J are measured on the files exactly as
``convergence.py`` measures ours (Cool-chic's lambda weighs the same MSE
on 0..1 pixels against bits per pixel), with the wall seconds of the
encode, so the two tables compare at equal iterations or equal time.

Rows are cached in OUT/rows.json (keyed by the checkout's commit as well);
OUT/peer-coolchic.md holds the table and OUT/cool-chic-peer.json the curve
(mean over crops per lambda) in ``benchmarks.rd``'s schema. Without
``--coolchic`` it says so in one line and does nothing: CI never needs it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pranc_codec.images import load_image, write_atomic
from pranc_codec.metrics import psnr

from .convergence import NAMES, crop
from .rd import images_or_exit


def commit_of(checkout: Path) -> str:
    """The checkout's commit, or "unknown" outside git."""
    run = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else "unknown"


def encode_one(checkout: Path, python: str, image: np.ndarray, lam: float, iterations: int,
               dec_cfg: str, work: Path) -> dict:
    """One crop through Cool-chic's encoder and decoder: bpp, PSNR, J, encode seconds."""
    work.mkdir(parents=True, exist_ok=True)
    source, stream, decoded = work / "input.png", work / "bitstream.cool", work / "decoded.png"
    Image.fromarray(image).save(source)
    command = [python, "cc_encode.py", "-i", str(source.resolve()), "-o", str(stream.resolve()),
               "--workdir", str(work.resolve()), "--lmbda", str(lam), "--n_itr", str(iterations),
               "--dec_cfg_residue", dec_cfg]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"cc_encode.py failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    run = subprocess.run([python, "cc_decode.py", "-i", str(stream.resolve()),
                          "-o", str(decoded.resolve())], cwd=checkout, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"cc_decode.py failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    bpp = 8 * stream.stat().st_size / (image.shape[0] * image.shape[1])
    quality = psnr(image, load_image(str(decoded)).array)
    return dict(bpp=bpp, psnr=quality, j=10 ** (-quality / 10) + lam * bpp, seconds=seconds)


def table(rows: list[dict]) -> str:
    lines = ["| image | lambda | iterations | bpp | PSNR (dB) | J | encode (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["image"], -r["lam"], r["iterations"])):
        lines.append(f"| {r['image']} | {r['lam']:g} | {r['iterations']} | {r['bpp']:.4f} | "
                     f"{r['psnr']:.2f} | {r['j']:.4e} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def curve(rows: list[dict], n_images: int, iterations: int) -> dict:
    """The mean over crops per lambda, in benchmarks.rd's (CompressAI's) schema."""
    points = []
    for lam in sorted({r["lam"] for r in rows}, reverse=True):
        mine = [r for r in rows if r["lam"] == lam]
        if len(mine) == n_images:
            points.append({k: float(np.mean([r[src] for r in mine])) for k, src in
                           (("bpp", "bpp"), ("psnr-rgb", "psnr"), ("encoding_time", "seconds"))})
    return {"name": "cool-chic-peer",
            "description": f"Cool-chic's own encoder on this machine, {iterations} iterations",
            "results": {k: [p[k] for p in points] for k in ("bpp", "psnr-rgb", "encoding_time")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_coolchic",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--coolchic", type=Path, help="a Cool-chic checkout (cc_encode.py in it)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python of Cool-chic's environment (default: this one)")
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("results/peer-coolchic"))
    parser.add_argument("--names", default=NAMES, help="images (stems) to crop")
    parser.add_argument("--lams", default="0.004,0.00025")
    parser.add_argument("--iterations", type=int, default=2000,
                        help="Cool-chic's main-phase iterations (its default: 10,000)")
    parser.add_argument("--dec-cfg", default="cfg/dec/intra/hop.cfg",
                        help="Cool-chic's decoder configuration, relative to the checkout")
    args = parser.parse_args(argv)
    if args.coolchic is None:
        print("peer_coolchic: skipped, no Cool-chic checkout given (--coolchic PATH)")
        return 0
    if not (args.coolchic / "cc_encode.py").is_file():
        parser.error(f"--coolchic {args.coolchic}: no cc_encode.py in it")
    paths = images_or_exit(parser, args.images, only=args.names)
    lams = [float(v) for v in args.lams.split(",")]
    commit = commit_of(args.coolchic)
    cache = args.out / "rows.json"
    rows = json.loads(cache.read_text()) if cache.exists() else []
    args.out.mkdir(parents=True, exist_ok=True)

    def key(r: dict) -> tuple:
        return r["image"], r["lam"], r["iterations"], r["commit"], r["dec_cfg"]

    done = {key(r) for r in rows}
    for path in paths:
        for lam in lams:
            if (path.stem, lam, args.iterations, commit, args.dec_cfg) in done:
                continue
            work = args.out / "work" / f"{path.stem}-{lam:g}-{args.iterations}"
            row = dict(image=path.stem, lam=lam, iterations=args.iterations, commit=commit,
                       dec_cfg=args.dec_cfg,
                       **encode_one(args.coolchic, args.python, crop(path), lam, args.iterations,
                                    args.dec_cfg, work))
            rows.append(row)
            print(f"{row['image']} lambda {lam:g}: {row['bpp']:.4f} bpp, {row['psnr']:.2f} dB, "
                  f"J {row['j']:.4e}, {row['seconds']:.0f} s", flush=True)
            write_atomic(cache, (json.dumps(rows, indent=1) + "\n").encode())
    mine = [r for r in rows if r["commit"] == commit and r["dec_cfg"] == args.dec_cfg
            and r["iterations"] == args.iterations and r["image"] in {p.stem for p in paths}]
    text = table(mine)
    print(text)
    write_atomic(args.out / "peer-coolchic.md", text.encode())
    write_atomic(args.out / "cool-chic-peer.json",
                 (json.dumps(curve(mine, len(paths), args.iterations), indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
