"""What the fixed-point entropy model and the container cost, in format v2 and v3:
the bits a file spends on its latents against the float model's estimate for
the same latents.

    python -m benchmarks.entropy_precision FILE_OR_DIR [...] [--out results/entropy-precision]

The fit prices its latents with the float model (``latent.networks``: the
exact Laplace mass of each bin); a file codes them with the fixed-point one
(``latent.entropy_model``: activations at 2^-8, the scale in eighths of a
log2 step, and per version the mean in quarters or sixteenths, frequencies
out of 2^20 or 2^22) and rANS, a stream per grid (v2) or one for all (v3).
For every grid of every file (of either version) this compares, on the
file's own latents and weights:

- float: the float model's bits with the file's weights;
- fixed v2 / v3: each version's ideal code length, -log2(frequency / total)
  summed (what its quantised mean and scale cost);
- coded v2 / v3: the bytes of the rANS streams (what the coder adds: final
  states and part-filled words; v3's one stream is counted for all grids);
- file v2 / v3: the whole file in each version (sections and CRCs too), the
  same networks and latents.

Directories are searched for ``*.prc`` and for the ``*.bin`` files that
``benchmarks.rd`` keeps of this codec (``cache/pranc/IMAGE/lam=L.bin``); a
file's rate is its name's stem where that is ``lam=L``. The table, per rate
and grid (0 the finest), goes to OUT/entropy-precision.md.
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pranc_codec.basis import netweights
from pranc_codec.errors import PrcError
from pranc_codec.images import write_atomic
from pranc_codec.latent import container, decoder, entropy_model
from pranc_codec.latent.networks import arm, contexts, laplace_bits

VERSIONS = (2, 3)
# per grid: latents, float bits, fixed-point bits in v2 and v3, coded bits in v2
GRID_COLUMNS = 5
# per file: coded bits in v3 (its one stream), file bits in v2 and v3
FILE_COLUMNS = 3


def latent_bits(data: bytes) -> tuple[list[list[float]], list[float]]:
    """Per grid, finest first: [latents, float bits, fixed v2, fixed v3, coded v2];
    and for the file [coded v3, file bits v2, file bits v3]."""
    f, arch, groups = decoder.parse(data)
    _, arm_int = arch.split(decoder.weights(f, arch, groups))
    arm_float = torch.from_numpy(netweights.to_float(arm_int))
    grids = [g.astype(np.int64) for g in decoder.decode_latents(f, arch.arm, arm_int)]
    streams = {v: entropy_model.encode_grids(grids, arm_int, arch.arm, entropy_model.PRECISION[v])
               for v in VERSIONS}
    rows = []
    for i, values in enumerate(grids):
        fixed = []
        for v in VERSIONS:
            precision = entropy_model.PRECISION[v]
            _, freqs = entropy_model.symbols(values, arm_int, arch.arm, precision)
            fixed.append(float(np.sum(precision.prob_bits - np.log2(freqs))))
        y = torch.from_numpy(values.astype(np.float32))
        with torch.no_grad():
            mu, log2_scale = arm(arch.arm, arm_float, contexts(y, arch.arm.context))
            estimate = float(laplace_bits(y.reshape(-1), mu, log2_scale).sum())
        rows.append([values.size, estimate, *fixed, 8 * len(streams[2][i])])
    files = [8 * len(container.pack(replace(f, streams=tuple(streams[v]), version=v)))
             for v in VERSIONS]
    return rows, [8 * len(streams[3][0]), *files]


def find_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        files += sorted([*p.rglob("*.prc"), *p.rglob("*.bin")]) if p.is_dir() else [p]
    return files


def rate_of(path: Path) -> str:
    return path.stem if path.stem.startswith("lam=") else "all"


def percent(a: float, b: float) -> str:
    return f"{100 * (a / b - 1):+.2f} %" if b else "-"


def table(grids: dict[tuple[str, int], list[float]], files: dict[str, list[float]]) -> str:
    """Per rate, a line per grid and one for all; the file columns on the latter."""
    head = ("| rate | grid | files | latents | float bits | fixed v2 | fixed v3 | coded v2 "
            "| coded v3 | coded v2 vs float | coded v3 vs float | file v2 bits "
            "| file v3 bits | file v3 vs v2 |")
    lines = [head, "|" + "---|" * 14]

    def lam(rate: str) -> float:
        return float(rate[4:]) if rate.startswith("lam=") else math.inf

    for rate in sorted({r for r, _ in grids}, key=lam, reverse=True):
        levels = sorted(g for r, g in grids if r == rate)
        for g in levels:
            n, lat, fl, f2, f3, c2 = grids[rate, g]
            lines.append(f"| {rate} | {g} | {n:.0f} | {lat:.0f} | {fl:.0f} | {f2:.0f} | "
                         f"{f3:.0f} | {c2:.0f} | - | {percent(c2, fl)} | - | - | - | - |")
        _, lat, fl, f2, f3, c2 = [sum(grids[rate, g][k] for g in levels)
                                  for k in range(GRID_COLUMNS + 1)]
        n = grids[rate, levels[0]][0]  # files: every file has a finest grid
        c3, b2, b3 = files[rate]
        lines.append(f"| {rate} | **all** | {n:.0f} | {lat:.0f} | {fl:.0f} | {f2:.0f} | "
                     f"{f3:.0f} | {c2:.0f} | {c3:.0f} | {percent(c2, fl)} | {percent(c3, fl)} "
                     f"| {b2:.0f} | {b3:.0f} | {percent(b3, b2)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entropy_precision",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path,
                        help="v2 or v3 files, or folders of them")
    parser.add_argument("--out", type=Path, default=Path("results/entropy-precision"))
    args = parser.parse_args(argv)
    files = find_files(args.paths)
    # (rate, grid) -> [files, *GRID_COLUMNS]; rate -> FILE_COLUMNS
    totals: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0] * (GRID_COLUMNS + 1))
    per_file: dict[str, list[float]] = defaultdict(lambda: [0.0] * FILE_COLUMNS)
    skipped = []
    for path in files:
        try:
            grids, whole = latent_bits(path.read_bytes())
        except PrcError as e:
            skipped.append(f"{path}: {e}")
            continue
        for i, bits in enumerate(grids):
            t = totals[rate_of(path), i]
            for k, v in enumerate((1, *bits)):
                t[k] += v
        per_file[rate_of(path)] = [a + b for a, b in zip(per_file[rate_of(path)], whole)]
    if not totals:
        print(f"no format v2 or v3 file among {len(files)} file(s)", file=sys.stderr)
        return 1
    text = (f"# Entropy model precision ({len(files) - len(skipped)} files)\n\n"
            + table(totals, per_file))
    print(text + "".join(f"skipped {s}\n" for s in skipped))
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "entropy-precision.md", text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
