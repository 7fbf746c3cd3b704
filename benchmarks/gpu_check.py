"""Everything only a CUDA GPU shows, in one run of under 10 minutes.

    python -m benchmarks.gpu_check [--images DIR] [--limit 4] [--iterations 10000]
                                   [--budget 420]
    python -m benchmarks.gpu_check --curve [--images DIR] [--out results/kodak]
                                   [--gpu-batch N] [--iterations N] [--budget 540]

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

With ``--curve``, instead: the ``gpu`` preset's curve (codec ``pranc-gpu``,
every image at each of its lambdas), the images of one shape fitted
together (``pranc_codec.codec.encode_many``, ``--gpu-batch`` at a time,
by default as many as free memory holds), each row cached as
``benchmarks.rd`` caches it (OUT/cache/pranc-gpu), so a run cut short
resumes and ``python -m benchmarks.rd --codecs pranc,...,pranc-gpu`` puts
the curve in the summaries and plots. It prints images per hour, ms per
iteration per image, and the share of the GPU's time spent in the Triton
basis kernels (a profile of a short fit of the first batch).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from pranc_codec import batch, codec
from pranc_codec.basis import product
from pranc_codec.basis.groups import Group, stream_key
from pranc_codec.images import load_image
from pranc_codec.metrics import ms_ssim, psnr

from . import rd
from .codecs import PrancGpu, label
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


def kernel_share(images: list, lam: float, iterations: int = 30) -> float:
    """The share of GPU time in the Triton basis kernels over a short fit of ``images``
    together (torch.profiler; kernels named basis_*_kernel)."""
    from torch.profiler import ProfilerActivity, profile

    codec.encode_many(images, preset="gpu", lam=lam, iterations=iterations)  # warm: compile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        codec.encode_many(images, preset="gpu", lam=lam, iterations=iterations)
        torch.cuda.synchronize()
    times = [(e.key, e.device_time_total) for e in prof.key_averages()]
    total = sum(t for _, t in times)
    return sum(t for k, t in times if k.startswith("basis_") and "kernel" in k) / max(total, 1e-9)


def _row(gpu: PrancGpu, image_name: str, point: dict, image, data: bytes,
         encode_s: float) -> rd.Row:
    """rd's row of a file encoded here (decoded and scored as rd.measure does)."""
    start = time.perf_counter()
    decoded = codec.decode(data)
    decode_s = time.perf_counter() - start
    h, w = image.shape[:2]
    return rd.Row(gpu.name, image_name, label(point), len(data), len(data) * 8 / (h * w),
                  psnr(image, decoded), ms_ssim(image, decoded), encode_s, decode_s, gpu.version)


def run_curve(paths: list[Path], out: Path, together: int | None, budget: float) -> None:
    """The pranc-gpu curve, cached per fit as rd caches it (see the module's doc)."""
    gpu = PrancGpu()
    cache = rd.Cache(out / "cache")
    iterations = codec.settings_for(gpu.preset).iterations
    start_all, fitted, fit_seconds, last = time.perf_counter(), 0, 0.0, 0.0
    for point in gpu.points:
        todo = [p for p in paths if cache.get(gpu, p.stem, point) is None]
        by_shape: dict[tuple, list[tuple[Path, object]]] = {}
        for path in todo:
            image = load_image(path).array
            by_shape.setdefault(image.shape, []).append((path, image))
        for shape, items in by_shape.items():
            n = together or batch.gpu_batch_size(shape[0] * shape[1])
            for i in range(0, len(items), n):
                chunk = items[i:i + n]
                if time.perf_counter() - start_all + last > budget:
                    print(f"stopped at {label(point)}: the --budget of {budget:.0f} s would be "
                          "exceeded; run again to go on")
                    return
                start = time.perf_counter()
                files = codec.encode_many([im for _, im in chunk], preset=gpu.preset, **point)
                last = time.perf_counter() - start
                fitted, fit_seconds = fitted + len(chunk), fit_seconds + last
                for (path, image), data in zip(chunk, files):
                    cache.put(_row(gpu, path.stem, point, image, data, last / len(chunk)), data,
                              keep_file=True)
                print(f"{label(point)}: {len(chunk)} images of {shape[1]}x{shape[0]} together in "
                      f"{last:.0f} s ({1000 * last / iterations / len(chunk):.2f} ms per iteration "
                      "per image)", flush=True)
    if fitted:
        print(f"{fitted} fits in {fit_seconds:.0f} s: {3600 * fitted / fit_seconds:.0f} images "
              "per hour")
    first = [load_image(p).array for p in paths[:4]]
    if torch.cuda.is_available() and len({im.shape for im in first}) == 1:
        share = kernel_share(first, gpu.points[0]["lam"])
        print(f"share of GPU time in the Triton basis kernels: {100 * share:.1f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("../shared/data/kodak"))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10000,
                        help="the preset run's iterations (--curve: always the gpu preset's)")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds for the preset runs (default: 420)")
    parser.add_argument("--curve", action="store_true",
                        help="the gpu preset's whole curve, images fitted together, cached in OUT")
    parser.add_argument("--out", type=Path, default=Path("results/kodak"))
    parser.add_argument("--gpu-batch", type=int, help="images fitted together (default: by memory)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here")
        return 2
    if args.curve:
        run_curve(sorted(args.images.glob("*.png")), args.out, args.gpu_batch, args.budget)
        return 0
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
