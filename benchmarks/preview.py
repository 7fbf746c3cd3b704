"""What a v2 or v3 file cut short still shows: the preview Pillow's
LOAD_TRUNCATED_IMAGES gives.

    python -m benchmarks.preview FILE.prc [FILE.prc ...]

A file holds its latent grids coarsest first, so a file cut after its k
coarsest grids decodes them and takes the finer ones at the entropy
model's mean (``codec.decode_partial``). For every file and every cut
(after the networks; then in v2 after each grid's section, in v3 at each
eighth of its one stream) it prints the share of the file kept and the
PSNR of the preview against the whole file's decode, then the means over
the files by cut.
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


def cuts(data: bytes) -> list[tuple[str, int]]:
    """(what is kept, bytes kept) of each cut, from the networks on."""
    out, grids = [], 0
    levels = container.unpack(data).head.levels
    ends = container.layout(data)
    for (kind, end), (_, before) in zip(ends, [(b"", 0)] + ends):
        if kind == b"NETS":
            out.append(("networks", end))
        elif kind == b"LATG":
            grids += 1
            out.append((f"{grids} of {levels} grids", end))
        elif kind == b"LATS":  # the body starts 9 bytes into the section
            out += [(f"{eighth}/8 of the stream", before + 9 + (end - 4 - before - 9) * eighth // 8)
                    for eighth in range(1, 9)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="format v2 or v3 .prc files")
    args = parser.parse_args(argv)
    by_cut: dict[str, list[tuple[float, float]]] = defaultdict(list)
    print("| file | kept | bytes kept | PSNR against the whole decode (dB) |\n"
          "|---|---|---|---|")
    for path in args.files:
        data = path.read_bytes()
        full = codec.decode(data)
        for kept, end in cuts(data):
            preview = codec.decode_partial(data[:end])
            score = psnr(full, preview)
            share = end / len(data)
            by_cut[kept].append((share, score))
            print(f"| {path} | {kept} | {100 * share:.1f} % | {score:.2f} |", flush=True)
    print("\n| kept | bytes kept, mean | PSNR against the whole decode, mean (dB) |\n"
          "|---|---|---|")
    for kept, rows in by_cut.items():
        shares, scores = zip(*rows)
        print(f"| {kept} | {100 * statistics.mean(shares):.1f} % | "
              f"{statistics.mean(scores):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
