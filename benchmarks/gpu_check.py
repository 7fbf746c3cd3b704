"""Everything only a CUDA GPU shows, in one run of under 10 minutes.

    python -m benchmarks.gpu_check [--images DIR] [--limit 4] [--iterations 10000]
                                   [--budget 420]

1. The Triton kernels compiled for the GPU against the CPU path: the v1
   Gaussian basis and the v2 sign basis, dense and chunked groups, forward
   and gradient (largest difference, relative to the values' size).
2. The basis product's speed on the GPU (basis values per second).
3. The ``gpu`` preset (``--iterations`` fit iterations on the whole image)
   on the first ``--limit`` images: bpp, PSNR, encode seconds; every file is
   decoded by the CPU decoder, as any user's would be. An image is not started
   when the last one's time would take the run past ``--budget`` seconds, so a
   lent machine's time limit cuts the table short rather than losing it.
Exits 2 without a CUDA device, 1 if a kernel disagrees with the CPU path.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from pranc_codec import codec
from pranc_codec.basis import product
from pranc_codec.basis.groups import Group, stream_key
from pranc_codec.images import load_image
from pranc_codec.metrics import psnr

from .timing import median_seconds

TOLERANCE = 1e-4  # float32 sums in another order
GROUPS = [(10**5, 10**5, 1000), (10**5, 128, 16), (10**6, 64, 8)]  # size, chunk, rank


def check_kernels() -> bool:
    """Print the largest relative differences; True when all are within TOLERANCE."""
    ok = True
    key = stream_key(7, 1)
    for signs in (False, True):
        for size, chunk, rank in GROUPS:
            n_chunks = -(-size // chunk)
            group = Group(0, size, chunk, rank, 0.5, signs=signs)
            alpha = torch.randn(2, n_chunks * rank)
            grad = torch.randn(2, size)
            ref_f = product.basis_forward(group, key, alpha, cache=False)
            ref_b = product.basis_backward(group, key, grad, cache=False)
            got_f = product.triton_forward(group, key, alpha.cuda()).cpu()
            got_b = product.triton_backward(group, key, grad.cuda()).cpu()
            errs = [float((a - b).abs().max() / b.abs().max()) for a, b in
                    ((got_f, ref_f), (got_b, ref_b))]
            good = max(errs) <= TOLERANCE
            ok &= good
            print(f"{'signs' if signs else 'gaussian'} n={size} chunk={chunk} r={rank}: "
                  f"forward {errs[0]:.1e}, gradient {errs[1]:.1e} {'ok' if good else 'DIFFERS'}")
    return ok


def time_kernels() -> None:
    key = stream_key(7, 1)
    for size, chunk, rank in GROUPS:
        group = Group(0, size, chunk, rank, 0.5, signs=True)
        alpha = torch.randn(group.n_coeffs, device="cuda")
        grad = torch.randn(size, device="cuda")
        for name, fn in (("forward", lambda: product.triton_forward(group, key, alpha)),
                         ("gradient", lambda: product.triton_backward(group, key, grad))):
            seconds = median_seconds(lambda: (fn(), torch.cuda.synchronize()), 10)
            rate = group.n_basis_values / seconds
            print(f"n={size} chunk={chunk} r={rank} {name}: {rate / 1e9:.2f} billion basis "
                  "values per second")


def run_preset(images: list[Path], iterations: int, budget: float) -> None:
    print("| image | bpp | PSNR (dB) | encode (s) | ms per iteration |\n|---|---|---|---|---|")
    start_all, seconds = time.perf_counter(), 0.0
    for path in images:
        if time.perf_counter() - start_all + seconds > budget:
            print(f"stopped before {path.stem}: the --budget of {budget:.0f} s would be exceeded")
            break
        image = load_image(path).array
        start = time.perf_counter()
        data = codec.encode(image, preset="gpu", iterations=iterations)
        seconds = time.perf_counter() - start
        bpp = len(data) * 8 / (image.shape[0] * image.shape[1])
        print(f"| {path.stem} | {bpp:.4f} | {psnr(image, codec.decode(data)):.2f} | "
              f"{seconds:.0f} | {1000 * seconds / iterations:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/kodak"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds for the preset runs (default: 420)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here")
        return 2
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    ok = check_kernels()
    time_kernels()
    images = sorted(p for p in args.images.glob("*.png"))[:args.limit]
    if images:
        run_preset(images, args.iterations, args.budget)
    else:
        print(f"no images in {args.images}; the preset run is skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
