"""``make demo``: encode and decode a sample photo shipped with scikit-image.

Runs the same CLI a user would, printing each command first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import skimage.data

from .cli import main as cli_main
from .images import png_bytes, write_atomic

SAMPLES = ("astronaut", "chelsea", "coffee")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pranc_codec.demo", description=__doc__)
    parser.add_argument("--image", choices=SAMPLES, default="astronaut")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--out", default="demo-output", help="folder for the files")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    original = out / f"{args.image}.png"
    write_atomic(original, png_bytes(getattr(skimage.data, args.image)()))
    prc, decoded = out / f"{args.image}.prc", out / f"{args.image}.decoded.png"
    for command in (["encode", str(original), str(prc), "--preset", args.preset],
                    ["decode", str(prc), str(decoded), "--compare", str(original)]):
        print("$ pranc-codec " + " ".join(command), flush=True)
        status = cli_main(command)
        if status:
            return status
    print(f"files: original {original}, compressed {prc}, decoded {decoded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
