"""What the rate-distortion benchmark writes besides its JSON and CSV: plots,
the side-by-side comparison figure and summary.md."""
from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pranc_codec.images import load_image  # noqa: E402

from .codecs import Codec, label  # noqa: E402

CROP = 256  # side of the comparison crop, in pixels


def msssim_db(value: float) -> float:
    """MS-SSIM as -10 log10(1 - MS-SSIM): spreads the values near 1 apart."""
    return -10.0 * math.log10(max(1.0 - value, 1e-12))


def plots(curves: dict[str, list[dict]], descriptions: dict[str, str], out: Path,
          dashed: set[str] = frozenset()) -> None:
    """rd-psnr.png and rd-msssim.png, one curve per codec, bpp on a log axis
    (the ``dashed`` ones, published rather than measured, dashed)."""
    for key, filename, ylabel, transform in (
            ("psnr-rgb", "rd-psnr.png", "RGB PSNR (dB), mean over images", float),
            ("ms-ssim-rgb", "rd-msssim.png", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM)",
             msssim_db)):
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for name, points in curves.items():
            if any(p[key] is None for p in points):
                continue
            ax.plot([p["bpp"] for p in points], [transform(p[key]) for p in points],
                    "x--" if name in dashed else "o-", markersize=4,
                    label=f"{name}: {descriptions[name]}")
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (whole file)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no curve: MS-SSIM needs images of at least 161 pixels a side",
                    ha="center", transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=120)
        plt.close(fig)


def _nearest(rows: list, codec: str, image: str, bpp: float):
    mine = [r for r in rows if r.codec == codec and r.image == image]
    return min(mine, key=lambda r: abs(math.log(r.bpp / bpp)), default=None)


def _crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(CROP, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def comparison(codecs: list[Codec], images: list[Path], rows: list, cache, path: Path) -> None:
    """The same crop of each image decoded by every codec near one bpp.

    The target is PRANC's middle point on that image when PRANC ran (else the
    median rate measured); each codec shows its point nearest to it.
    """
    fig, axes = plt.subplots(len(images), len(codecs) + 1, squeeze=False,
                             figsize=(2.4 * (len(codecs) + 1), 3.0 * len(images)))
    for row_axes, image_path in zip(axes, images):
        original = load_image(image_path).array
        stem = image_path.stem
        pranc = sorted((r for r in rows if r.codec == "pranc" and r.image == stem),
                       key=lambda r: r.bpp)
        target = (pranc[len(pranc) // 2].bpp if pranc
                  else float(np.median([r.bpp for r in rows if r.image == stem])))
        panels = [(original, f"{stem} original")]
        for codec in codecs:
            row = _nearest(rows, codec.name, stem, target)
            if row is None:
                continue
            point = next(p for p in codec.points if label(p) == row.point)
            data = cache.file(codec.name, stem, row.point) or codec.encode(original, point)
            panels.append((codec.decode(data), f"{codec.name} {row.bpp:.3f} bpp\n"
                                                f"{row.psnr:.2f} dB"))
        for ax in row_axes:
            ax.axis("off")
        for ax, (image, title) in zip(row_axes, panels):
            crop = _crop(image)
            ax.imshow(crop[..., 0] if crop.shape[2] == 1 else crop[..., :3],
                      cmap="gray" if crop.shape[2] == 1 else None, vmin=0, vmax=255)
            ax.set_title(title, fontsize=8)
    fig.suptitle(f"Central crops (at most {CROP}x{CROP}), each codec at its point nearest "
                 "PRANC's middle rate on that image; bpp and PSNR of the whole image",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt_delta(value: float | None, unit: str) -> str:
    """A signed delta with its unit, or n/a."""
    return "n/a" if value is None else f"{value:+.2f}{unit}"


def _range(span: tuple[float, float] | None, spec: str) -> str:
    return "none" if span is None else f"{span[0]:{spec}} to {span[1]:{spec}}"


def psnr_at(points: list[dict], bpp: float) -> float | None:
    """A curve's PSNR at ``bpp``, linear in log rate between its points; None outside them."""
    points = sorted(points, key=lambda p: p["bpp"])
    rates = [p["bpp"] for p in points]
    if not rates or not rates[0] <= bpp <= rates[-1]:
        return None
    return float(np.interp(np.log(bpp), np.log(rates), [p["psnr-rgb"] for p in points]))


def same_rate_lines(curves: dict[str, list[dict]], codec: str) -> list[str]:
    """``codec`` at each of its points against every other curve at the same bpp."""
    others = [name for name in curves if name != codec]
    lines = [f"## {codec} against each codec at the same rate", "",
             f"At each {codec} point, the other curve's PSNR at that bpp (linear in log "
             "rate between its points) and the difference; blank outside its range.", "",
             "| point | bpp | PSNR (dB) | " + " | ".join(others) + " |",
             "|---" * (len(others) + 3) + "|"]
    for p in curves.get(codec, []):
        cells = []
        for name in others:
            at = psnr_at(curves[name], p["bpp"])
            cells.append("" if at is None else f"{at:.2f} ({p['psnr-rgb'] - at:+.2f})")
        lines.append(f"| {p['point']} | {p['bpp']:.4f} | {p['psnr-rgb']:.2f} | "
                     + " | ".join(cells) + " |")
    return lines + [""]


def summary(curves: dict[str, list[dict]], tables: list[dict], n_images: int,
            images_dir: Path, path: Path) -> None:
    """summary.md: the Bjontegaard deltas, pranc against each codec at its own
    rates, and the averaged curves."""
    lines = [f"# Rate-distortion summary ({images_dir.name}, {n_images} images)", "",
             f"Written by `python -m benchmarks.rd` on {date.today().isoformat()}. "
             "Means over images per operating point; PSNR is averaged per image. "
             "Bits count the whole file.", "",
             "## Bjontegaard deltas", "",
             "Negative BD-rate: fewer bits than the anchor for the same quality. "
             "Positive BD-PSNR: more dB at the same rate. PCHIP interpolation over the "
             "overlapping range only, given beside each figure: a delta over a narrow "
             "overlap says little about the rest of the curves. n/a where the curves do "
             "not overlap.", "",
             "| codec | anchor | BD-rate (PSNR) | over PSNR (dB) | BD-PSNR | over bpp "
             "| BD-rate (MS-SSIM) |",
             "|---|---|---|---|---|---|---|"]
    for t in tables:
        lines.append(f"| {t['codec']} | {t['anchor']} | {fmt_delta(t['bd_rate_psnr'], ' %')} | "
                     f"{_range(t['psnr_overlap'], '.2f')} | {fmt_delta(t['bd_psnr'], ' dB')} | "
                     f"{_range(t['bpp_overlap'], '.3f')} | {fmt_delta(t['bd_rate_msssim'], ' %')} |")
    if not tables:
        lines.append("| (no anchor among the codecs run) | | | | | | |")
    lines += [""] + (same_rate_lines(curves, "pranc") if "pranc" in curves else [])
    lines += ["## Operating points", "",
              "| codec | point | bpp | PSNR (dB) | MS-SSIM | encode (s) | decode (s) |",
              "|---|---|---|---|---|---|---|"]
    for name, points in curves.items():
        for p in points:
            ssim = "n/a" if p["ms-ssim-rgb"] is None else f"{p['ms-ssim-rgb']:.4f}"
            times = ["n/a" if p[k] is None else f"{p[k]:.{digits}f}"
                     for k, digits in (("encoding_time", 2), ("decoding_time", 3))]
            lines.append(f"| {name} | {p['point']} | {p['bpp']:.4f} | {p['psnr-rgb']:.2f} | "
                         f"{ssim} | {times[0]} | {times[1]} |")
    path.write_text("\n".join(lines) + "\n")
