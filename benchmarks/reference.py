"""The leaders' published Kodak curves, drawn beside every Kodak summary.

Each is the mean over the 24 Kodak images per operating point (PSNR averaged
per image, as ``benchmarks.rd`` does), copied from the named repository's
result table at the named commit; nothing here was measured on this
machine. They are shown only when a run covers all 24 Kodak images.
"""
from __future__ import annotations

KODAK = {f"kodim{i:02d}" for i in range(1, 25)}

# name -> (description, (bpp, PSNR) points)
PUBLISHED: dict[str, tuple[str, tuple[tuple[float, float], ...]]] = {
    # results/v5.0/image-kodak.tsv at Orange-OpenSource/Cool-Chic a6fe38a (2026-07-17):
    # the 24 images' mean at each of its five lambdas
    "cool-chic-5": (
        "Cool-chic 5.0 (published: Orange-OpenSource/Cool-Chic a6fe38a, "
        "results/v5.0/image-kodak.tsv)",
        ((0.083855, 27.4353), (0.218562, 30.8587), (0.481900, 34.5210),
         (0.759425, 37.2474), (1.357134, 41.1675))),
    # RESULTS['C3'] in baselines/kodak.py at google-deepmind/c3_neural_compression e63e751
    "c3": (
        "C3 (published: google-deepmind/c3_neural_compression e63e751, baselines/kodak.py)",
        ((0.09261394, 27.06491995), (0.1339127, 28.45003923), (0.15318637, 28.9589448),
         (0.2025493, 30.03212317), (0.23175092, 30.59409277), (0.27606731, 31.33577712),
         (0.35064952, 32.39495262), (0.51440305, 34.36792223), (0.57850416, 35.0161012),
         (0.72855291, 36.38384724), (0.8066705, 37.03668944), (0.91400582, 37.84491142),
         (1.07998864, 38.98360984), (1.40934119, 40.84745836))),
}


def curves(image_names: set[str]) -> dict[str, list[dict]]:
    """The published curves as ``benchmarks.rd`` curves, where ``image_names`` are
    the 24 Kodak images (else none: the figures are Kodak means)."""
    if image_names != KODAK:
        return {}
    return {name: [{"point": f"published {i}", "bpp": bpp, "psnr-rgb": psnr,
                    "ms-ssim-rgb": None, "encoding_time": None, "decoding_time": None}
                   for i, (bpp, psnr) in enumerate(points)]
            for name, (_, points) in PUBLISHED.items()}


def descriptions() -> dict[str, str]:
    return {name: description for name, (description, _) in PUBLISHED.items()}
