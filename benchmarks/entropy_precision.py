"""What the fixed-point entropy model costs: the bits a v2 file spends on its
latents against the float model's estimate for the same latents.

    python -m benchmarks.entropy_precision FILE_OR_DIR [...] [--out results/entropy-precision]

The fit prices its latents with the float model (``latent.networks``: the
exact Laplace mass of each bin); the file codes them with the fixed-point one
(``latent.entropy_model``: activations at 2^-8, the mean in quarters, the
scale in eighths of a log2 step, frequencies out of 2^20) and rANS. For
every grid of every file this compares, on the file's own latents and
weights:

- float: the float model's bits with the file's weights;
- fixed: the fixed-point model's ideal code length, -log2(frequency / 2^20)
  summed (what its quantised mean and scale cost);
- coded: the bytes of the grid's rANS stream (what the coder adds: its final
  state and part-filled word).

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
from pathlib import Path

import numpy as np
import torch

from pranc_codec.basis import netweights
from pranc_codec.errors import PrcError
from pranc_codec.images import write_atomic
from pranc_codec.latent import decoder, entropy_model, rans
from pranc_codec.latent.networks import arm, contexts, laplace_bits


def grid_bits(data: bytes) -> list[tuple[int, float, float, int]]:
    """Per grid, finest first: (latents, float bits, fixed-point bits, coded bits)."""
    f, arch, groups = decoder.parse(data)
    _, arm_int = arch.split(decoder.weights(f, arch, groups))
    arm_float = torch.from_numpy(netweights.to_float(arm_int))
    out = []
    for stream, grid in zip(f.grids, decoder.decode_latents(f, arch.arm, arm_int)):
        values = grid.astype(np.int64)
        _, freqs = entropy_model._symbols(values, np.ascontiguousarray(arm_int, dtype=np.int64),
                                          arch.arm.context, arch.arm.width, arch.arm.layers,
                                          entropy_model.CDF)
        fixed = float(np.sum(rans.PROB_BITS - np.log2(freqs)))
        y = torch.from_numpy(grid)
        with torch.no_grad():
            mu, log2_scale = arm(arch.arm, arm_float, contexts(y, arch.arm.context))
            estimate = float(laplace_bits(y.reshape(-1), mu, log2_scale).sum())
        out.append((values.size, estimate, fixed, 8 * len(stream)))
    return out


def find_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        files += sorted([*p.rglob("*.prc"), *p.rglob("*.bin")]) if p.is_dir() else [p]
    return files


def rate_of(path: Path) -> str:
    return path.stem if path.stem.startswith("lam=") else "all"


def percent(a: float, b: float) -> str:
    return f"{100 * (a / b - 1):+.2f} %" if b else "-"


def table(totals: dict[tuple[str, int], list[float]]) -> str:
    head = ("| rate | grid | files | latents | float bits | fixed-point bits | coded bits "
            "| fixed vs float | coded vs fixed | coded vs float |")
    lines = [head, "|" + "---|" * 10]

    def line(rate: str, grid: str, t: list[float]) -> str:
        n, lat, fl, fx, cd = t
        return (f"| {rate} | {grid} | {n:.0f} | {lat:.0f} | {fl:.0f} | {fx:.0f} | {cd:.0f} | "
                f"{percent(fx, fl)} | {percent(cd, fx)} | {percent(cd, fl)} |")

    def lam(rate: str) -> float:
        return float(rate[4:]) if rate.startswith("lam=") else math.inf

    for rate in sorted({r for r, _ in totals}, key=lam, reverse=True):
        grids = sorted(g for r, g in totals if r == rate)
        for g in grids:
            lines.append(line(rate, str(g), totals[rate, g]))
        lines.append(line(rate, "**all**", [sum(totals[rate, g][k] for g in grids)
                                            for k in range(5)]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entropy_precision",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="v2 files, or folders of them")
    parser.add_argument("--out", type=Path, default=Path("results/entropy-precision"))
    args = parser.parse_args(argv)
    files = find_files(args.paths)
    # (rate, grid) -> [files, latents, float bits, fixed-point bits, coded bits]
    totals: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0] * 5)
    skipped = []
    for path in files:
        try:
            grids = grid_bits(path.read_bytes())
        except PrcError as e:
            skipped.append(f"{path}: {e}")
            continue
        for i, bits in enumerate(grids):
            t = totals[rate_of(path), i]
            for k, v in enumerate((1, *bits)):
                t[k] += v
    if not totals:
        print(f"no format v2 file among {len(files)} file(s)", file=sys.stderr)
        return 1
    text = (f"# Entropy model precision ({len(files) - len(skipped)} files)\n\n"
            + table(totals))
    print(text + "".join(f"skipped {s}\n" for s in skipped))
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "entropy-precision.md", text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
