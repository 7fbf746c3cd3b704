"""Seconds per fit iteration of each v2 preset's architecture, and of its parts.

    python -m benchmarks.fit_speed [--image PATH] [--presets fast,default,best]
                                   [--iterations 20] [--repeats 5] [--no-busy]

For each preset, at 768x512 (or the given image) on the threads torch is
given (OMP_NUM_THREADS; the Makefile's targets use 2): the median seconds of
a whole iteration of ``LatentFit.train``, and of each part, forward and
backward, on its own: the basis product (theta from the coefficients), the
synthesis (upsampling, network and MSE on the preset's pixel sample), the
entropy model (contexts, network and bits of every latent) and the
optimizer (one Adam step). Then the whole iteration again while one other
CPU-bound process runs: under OpenMP's default wait policy (threads spin),
under ``OMP_WAIT_POLICY=PASSIVE``, and as shipped (``pranc_codec`` chooses
PASSIVE on import when the machine is busy, see ``pranc_codec.wait_policy``);
and alone under PASSIVE. OpenMP reads the policy when torch loads it, so
every configuration runs in a fresh process; the "alone" columns are as
shipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from .timing import median_seconds

SIZE = (768, 512)  # width, height: a Kodak landscape image


def sample_image(path: str | None) -> np.ndarray:
    """The image to fit: a file, or scikit-image's cat resized to 768x512."""
    from PIL import Image

    if path:
        return np.asarray(Image.open(path).convert("RGB"))
    from skimage.data import chelsea

    return np.asarray(Image.fromarray(chelsea()).resize(SIZE, Image.BICUBIC))


def measure(preset: str, image: np.ndarray, iterations: int, repeats: int,
            parts: bool) -> dict[str, float]:
    """Seconds of one iteration, and with ``parts`` of each part, for one preset."""
    import torch

    from pranc_codec.basis import netweights
    from pranc_codec.codec import settings_for
    from pranc_codec.latent import encoder
    from pranc_codec.latent.fit import LatentFit
    from pranc_codec.latent.schedule import Schedule
    from pranc_codec.latent.settings import grid_for

    s = settings_for(preset, device="cpu")
    s = grid_for(s, s.lam)  # the grid a file at the preset's lambda gets
    arch = encoder.architecture(image, s)
    groups = netweights.plan(arch.layer_sizes(), s.coeff_ratio, s.chunk, s.min_basis)
    lf = LatentFit(image, arch, groups, s.seed, s.l0)
    steps = [2.0**-8] * len(groups)
    schedule = Schedule(iterations, s.lr, s.lr_latent, stride=s.stride)
    out = {"iteration": median_seconds(lambda: lf.train(schedule, s.lam, steps), repeats)
           / iterations}
    if not parts:
        return out
    n_syn = arch.synthesis.n_params
    coeffs = [c.clone().requires_grad_(True) for c in lf.coeffs]
    latents = [y.clone().requires_grad_(True) for y in lf.latents]
    theta = lf.theta(coeffs).detach().requires_grad_(True)
    pixels = lf.sample_pixels(s.stride, torch.Generator().manual_seed(0), (lf.height, lf.width))
    target = lf.target[pixels[0]][:, pixels[1]]
    upstream = torch.randn_like(theta)

    def basis_product():
        (lf.theta(coeffs) * upstream).sum().backward()

    def synthesis():
        torch.mean((lf.synthesize(latents, theta[:n_syn], pixels) - target) ** 2).backward()

    def entropy_model():
        lf.latent_bits(latents, theta[n_syn:]).backward()

    opt = torch.optim.Adam([{"params": latents}] + [{"params": [c]} for c in coeffs])
    for t in latents + coeffs:
        t.grad = torch.randn_like(t)
    out.update({"basis product": median_seconds(basis_product, repeats),
                "synthesis": median_seconds(synthesis, repeats),
                "entropy model": median_seconds(entropy_model, repeats)})
    out["optimizer"] = median_seconds(opt.step, repeats)
    return out


def _child(args: argparse.Namespace, preset: str, parts: bool, policy: str) -> dict:
    """One measurement in a fresh process, with OMP_WAIT_POLICY set to ``policy``,
    or unset: "default" (torch loaded first, so OpenMP's default) or "shipped"
    (pranc_codec loaded first, so its choice)."""
    cmd = [sys.executable, "-m", "benchmarks.fit_speed", "--child", preset,
           "--iterations", str(args.iterations), "--repeats", str(args.repeats)]
    cmd += ["--image", args.image] if args.image else []
    cmd += ["--parts"] if parts else []
    cmd += ["--shipped"] if policy == "shipped" else []
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy not in ("default", "shipped"):
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="image to fit (default: a 768x512 sample photo)")
    parser.add_argument("--presets", default="fast,default,best")
    parser.add_argument("--iterations", type=int, default=20, help="iterations per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per median")
    parser.add_argument("--no-busy", action="store_true",
                        help="skip the runs beside a CPU-bound process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--parts", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shipped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.shipped:
        import pranc_codec  # noqa: F401  (before torch: it chooses the wait policy)
    else:
        import torch  # noqa: F401  (before pranc_codec: OpenMP's default policy)
    image = sample_image(args.image)
    if args.child:
        print(json.dumps(measure(args.child, image, args.iterations, args.repeats, args.parts)))
        return 0
    h, w = image.shape[:2]
    print(f"{w}x{h}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"median of {args.repeats} timings of {args.iterations} iterations; ms per iteration\n")
    cols = ["alone", "basis product", "synthesis", "entropy model", "optimizer"]
    if not args.no_busy:
        cols += ["busy (default wait)", "busy (PASSIVE)", "busy (as shipped)", "alone (PASSIVE)"]
    print("| preset | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for preset in args.presets.split(","):
        alone = _child(args, preset, True, "shipped")
        row = [alone["iteration"]] + [alone[k] for k in cols[1:5]]
        if not args.no_busy:
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                row += [_child(args, preset, False, p)["iteration"]
                        for p in ("default", "PASSIVE", "shipped")]
            finally:
                busy.kill()
                busy.wait()
            row.append(_child(args, preset, False, "PASSIVE")["iteration"])
        print(f"| {preset} | " + " | ".join(f"{v * 1000:.0f}" for v in row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
