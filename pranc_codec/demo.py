"""``make demo``: a sample photo shipped with scikit-image, compressed by
pranc-codec and by JPEG and WebP at the same file size, side by side.

Runs the same CLI a user would, printing each command first, then prints one
table (codec, bytes, bpp, PSNR, MS-SSIM, encode and decode seconds) and
writes OUT/comparison.png: the same crop from the original and each codec,
labelled.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from .cli import main as cli_main
from .images import image_bytes, load_image, write_atomic
from .metrics import ms_ssim, psnr

SAMPLES = ("astronaut", "chelsea", "coffee")
LAM = 0.01  # the default rate weight: about 0.25 bpp on these photos
CROP = 160  # pixels on a side, shown at twice the size
OTHERS = (("JPEG", "JPEG", {"optimize": True}), ("WebP", "WEBP", {"method": 6}))


def same_size(image: np.ndarray, fmt: str, options: dict, budget: int) -> tuple[bytes, int]:
    """The highest quality (1 to 95) whose file fits in ``budget`` bytes, and that
    quality; quality 1 where none fits."""
    def encoded(quality: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, fmt, quality=quality, **options)
        return buf.getvalue()

    lo, hi = 1, 95
    while lo < hi:  # largest quality that fits: file size grows with quality
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if len(encoded(mid)) <= budget else (lo, mid - 1)
    return encoded(lo), lo


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def comparison(panels: list[tuple[str, np.ndarray]]) -> bytes:
    """A PNG of the same centre crop of each image, twice the size, each labelled."""
    h, w = panels[0][1].shape[:2]
    top, left = max(0, (h - CROP) // 3), max(0, (w - CROP) // 2)
    label_h, scale = 18, 2
    side = min(CROP, h, w) * scale
    sheet = Image.new("RGB", (len(panels) * (side + 4), side + label_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(panels):
        crop = Image.fromarray(image[top:top + CROP, left:left + CROP])
        sheet.paste(crop.resize((side, side), Image.NEAREST), (i * (side + 4), label_h))
        draw.text((i * (side + 4) + 2, 3), label, fill="black")
    return image_bytes(np.asarray(sheet), ".png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pranc_codec.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", choices=SAMPLES, default="astronaut")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--out", default="demo-output", help="folder for the files")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    original = out / f"{args.image}.png"
    image = getattr(skimage.data, args.image)()
    write_atomic(original, image_bytes(image))
    prc, decoded_path = out / f"{args.image}.prc", out / f"{args.image}.decoded.png"
    seconds = []
    for command in (["encode", str(original), str(prc), "--preset", args.preset,
                     "--lam", str(LAM)],
                    ["decode", str(prc), str(decoded_path)]):
        print("$ pranc-codec " + " ".join(command), flush=True)
        status, elapsed = _timed(cli_main, command)
        if status:
            return status
        seconds.append(elapsed)
    budget = prc.stat().st_size
    rows = [("pranc-codec", budget, load_image(decoded_path).array, *seconds)]
    for name, fmt, options in OTHERS:
        (data, quality), enc_s = _timed(same_size, image, fmt, options, budget)
        path = out / f"{args.image}.q{quality}.{fmt.lower()}"
        write_atomic(path, data)
        decoded, dec_s = _timed(lambda d: np.asarray(Image.open(io.BytesIO(d)).convert("RGB")),
                                data)
        rows.append((f"{name} (quality {quality})", len(data), decoded, enc_s, dec_s))

    pixels = image.shape[0] * image.shape[1]
    print(f"\n{args.image}, {image.shape[1]}x{image.shape[0]}, JPEG and WebP at the largest "
          "quality that fits in the .prc file's size:\n")
    print(f"{'codec':<22} {'bytes':>7} {'bpp':>7} {'PSNR':>9} {'MS-SSIM':>8} "
          f"{'encode':>8} {'decode':>8}")
    panels = [("original", image)]
    for name, size, decoded, enc_s, dec_s in rows:
        quality = psnr(image, decoded)
        print(f"{name:<22} {size:>7} {size * 8 / pixels:>7.4f} {quality:>6.2f} dB "
              f"{ms_ssim(image, decoded):>8.4f} {enc_s:>7.2f}s {dec_s:>7.2f}s")
        panels.append((f"{name.split(' (')[0]} {size * 8 / pixels:.3f} bpp {quality:.2f} dB",
                       decoded))
    write_atomic(out / "comparison.png", comparison(panels))
    print(f"\nfiles in {out}/; the same crop of each: {out / 'comparison.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
