"""Speed of the basis product: basis values generated (or used) per second.

    python -m benchmarks.kernel_bench [--threads 2] [--max-values 1.1e9]

For groups of n parameters, dense (one chunk, k coefficients) and chunked
(m = 128, r coefficients per chunk), times the forward (scale * B @ alpha) and
the gradient (scale * B^T @ g) of
  torch       the CPU path with the pure-torch Philox, generating the basis
              as it goes
  compiled    the same with the numba Philox kernel (what a fit runs when
              its basis is over the cache budget)
  cached      the basis materialised in memory first (a fit's cache; only
              the product is timed)
  decoder     the decoder's numpy product (pranc_codec.basis.groups.forward),
              forward only
  triton      the Triton kernels on a CUDA device, when one is present
and prints n * r / seconds. It also times the two CPU generators alone. On a
GPU it prints the share of the device's peak 32-bit integer multiply rate
that Philox uses (10 rounds x 4 multiplies per value, assuming 64 integer
lanes per SM per clock).
"""
from __future__ import annotations

import argparse

import torch

from pranc_codec.basis import groups, philox, product
from pranc_codec.basis.groups import Group
from pranc_codec.kernels import philox_cpu

from .timing import median_seconds

PHILOX_MULTIPLIES_PER_VALUE = 40

CASES = [(n, "dense", k) for n in (10**4, 10**5, 10**6) for k in (10**3, 10**4)] + \
        [(n, "chunked", r) for n in (10**4, 10**5, 10**6) for r in (4, 16)]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(group: Group, path: str, repeats: int,
            cache_bytes: int) -> tuple[float, float | None]:
    """(forward, gradient) basis values per second; the decoder has no gradient."""
    device = "cuda" if path == "triton" else "cpu"
    alpha = torch.randn(group.n_coeffs, device=device)
    grad = torch.randn(group.size, device=device)
    key = groups.stream_key(1, 1)
    values = group.n_basis_values
    if path == "decoder":
        return values / median_seconds(lambda: groups.forward(group, key, alpha.numpy()), repeats), None
    if path == "triton":
        fwd = lambda: (product.triton_forward(group, key, alpha), _sync(device))  # noqa: E731
        bwd = lambda: (product.triton_backward(group, key, grad), _sync(device))  # noqa: E731
    else:
        # torch: the pure-torch generator; compiled: a fit whose basis is over
        # the cache budget; cached: one under it.
        product.CACHE.budget_bytes = cache_bytes if path == "cached" else 0
        product.COMPILED_MIN_VALUES = 0 if path == "compiled" else 2**63
        cache = path != "torch"
        fwd = lambda: product.basis_forward(group, key, alpha, cache)  # noqa: E731
        bwd = lambda: product.basis_backward(group, key, grad, cache)  # noqa: E731
    result = values / median_seconds(fwd, repeats), values / median_seconds(bwd, repeats)
    product.CACHE.clear()
    return result


def generators(threads: int, n: int = 1 << 22) -> None:
    """Print the compiled kernel's and the torch reference's randn rates."""
    k0, k1 = philox.split_key(groups.stream_key(1, 1))
    offsets = torch.arange(n, dtype=torch.int64)
    compiled = median_seconds(lambda: philox_cpu.randn(k0, k1, 0, n, threads, compiled=True), 5)
    reference = median_seconds(lambda: philox.randn(groups.stream_key(1, 1), offsets), 5)
    print(f"randn alone, {n} values: compiled kernel {n / compiled / 1e6:.1f}, "
          f"torch reference {n / reference / 1e6:.1f} million per second")


def gpu_peak_int_multiplies() -> float:
    """SMs x 64 lanes x clock; the clock is assumed 1.5 GHz where torch does not report it."""
    props = torch.cuda.get_device_properties(0)
    clock_khz = getattr(props, "clock_rate", None)
    if clock_khz is None:
        print("note: torch does not report the GPU clock; assuming 1.5 GHz for the peak")
        clock_khz = 1_500_000
    return props.multi_processor_count * 64 * clock_khz * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-values", type=float, default=1.1e9,
                        help="skip the torch and compiled paths above this many basis values")
    parser.add_argument("--cache-gb", type=float, default=2.0,
                        help="largest basis the cached path materialises")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cache_bytes = int(args.cache_gb * 2**30)
    has_gpu = torch.cuda.is_available()
    if not has_gpu:
        print("triton: skipped, no CUDA device (the kernels are tested in the interpreter)")
    print(f"torch {torch.__version__}, {args.threads} threads; million basis values per second")
    generators(args.threads)
    print("| n | basis | k or r | values | torch fwd | torch grad | compiled fwd | compiled grad "
          "| cached fwd | cached grad | decoder fwd |"
          + (" triton fwd | triton grad | Philox share of peak |" if has_gpu else ""))
    print("|---" * (10 + (3 if has_gpu else 0)) + "|---|")
    for n, kind, r in CASES:
        group = Group(0, n, n if kind == "dense" else 128, r, 1.0)
        values = group.n_basis_values
        repeats = 3 if values <= 2e8 else 1
        cells = [f"{n:.0e}", kind, str(r), f"{values:.1e}"]
        for path in ("torch", "compiled", "cached", "decoder"):
            limit = cache_bytes / 4 if path == "cached" else args.max_values
            rates = (None, None) if values > limit else measure(group, path, repeats, cache_bytes)
            cells += ["skipped" if v is None else f"{v / 1e6:.1f}"
                      for v in (rates[:1] if path == "decoder" else rates)]
        if has_gpu:
            fwd, bwd = measure(group, "triton", 5, cache_bytes)
            share = max(fwd, bwd) * PHILOX_MULTIPLIES_PER_VALUE / gpu_peak_int_multiplies()
            cells += [f"{fwd / 1e6:.1f}", f"{bwd / 1e6:.1f}", f"{share:.1%}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
