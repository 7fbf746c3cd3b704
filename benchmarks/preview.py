"""What a v2 file cut short still shows: the preview Pillow's LOAD_TRUNCATED_IMAGES gives.

    python -m benchmarks.preview FILE.prc [FILE.prc ...]

A v2 file holds its latent grids coarsest first, so a file cut after its k
coarsest grids decodes them and takes the finer ones at the entropy
model's mean (``codec.decode_partial``). For every file and every such cut
(after the networks, then after each grid) it prints the share of the file
kept and the PSNR of the preview against the whole file's decode, then the
means over the files by the number of grids kept.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from pranc_codec import codec
from pranc_codec.latent import container
from pranc_codec.metrics import psnr


def cuts(data: bytes) -> list[tuple[int, int]]:
    """(grids kept, bytes kept) of each cut at a section's end, from the networks on."""
    out, grids = [], 0
    for kind, end in container.layout(data):
        if kind in (b"NETS", b"LATG"):
            grids += kind == b"LATG"
            out.append((grids, end))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="format v2 .prc files")
    args = parser.parse_args(argv)
    by_grids: dict[int, list[tuple[float, float]]] = defaultdict(list)
    print("| file | grids kept | bytes kept | PSNR against the whole decode (dB) |\n"
          "|---|---|---|---|")
    for path in args.files:
        data = path.read_bytes()
        full = codec.decode(data)
        levels = container.unpack(data).head.levels
        for grids, end in cuts(data):
            preview = codec.decode_partial(data[:end])
            score = psnr(full, preview)
            share = end / len(data)
            by_grids[grids].append((share, score))
            print(f"| {path} | {grids} of {levels} | {100 * share:.1f} % | {score:.2f} |",
                  flush=True)
    print("\n| grids kept | bytes kept, mean | PSNR against the whole decode, mean (dB) |\n"
          "|---|---|---|")
    for grids, rows in sorted(by_grids.items()):
        shares, scores = zip(*rows)
        print(f"| {grids} | {100 * statistics.mean(shares):.1f} % | "
              f"{statistics.mean(scores):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
