"""Peak memory and time of encoding and decoding one large photo.

    python -m benchmarks.large_image [--image PATH] [--size 3072x2048] [--preset default]
        [--encode-args "--iterations 30"]

Scales the photo (scikit-image's ``astronaut`` by default) to the size with
Lanczos, then runs ``pranc-codec encode`` and ``pranc-codec decode`` each in
its own process under ``/usr/bin/time -v``, and prints each one's peak
resident memory and wall time, as a user on this machine would see them.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

TIME = "/usr/bin/time"


def measure(args: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, the command's own output) of one process."""
    result = subprocess.run([TIME, "-v", sys.executable, "-m", "pranc_codec", *args],
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", result.stderr)
    seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.group(1).split(":"))))
    return int(rss.group(1)) / 1024, seconds, result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, help="photo to scale (default: astronaut)")
    parser.add_argument("--size", default="3072x2048", help="WIDTHxHEIGHT")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--encode-args", default="",
                        help="more encoder options, e.g. '--iterations 30' to measure the "
                             "decoder without waiting for a full fit")
    args = parser.parse_args(argv)
    if not Path(TIME).exists():
        parser.error(f"{TIME} is needed to measure peak memory (Debian package 'time')")
    width, height = (int(v) for v in args.size.split("x"))
    if args.image:
        photo = Image.open(args.image).convert("RGB")
    else:
        from skimage.data import astronaut

        photo = Image.fromarray(np.asarray(astronaut()))
    with tempfile.TemporaryDirectory() as tmp:
        png, prc, out = (Path(tmp) / name for name in ("big.png", "big.prc", "out.png"))
        photo.resize((width, height), Image.Resampling.LANCZOS).save(png)
        for name, command in (
                ("encode", ["encode", str(png), str(prc), "--preset", args.preset,
                            *args.encode_args.split()]),
                ("decode", ["decode", str(prc), str(out)]),
                ("decode --compare", ["decode", str(prc), str(out), "--compare", str(png)])):
            rss, seconds, output = measure(command)
            print(f"{name}: peak {rss:.0f} MB, {seconds:.1f} s wall  | {output.splitlines()[-1]}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
