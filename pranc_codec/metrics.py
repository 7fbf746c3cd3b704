"""Distortion measures on 8-bit images."""
from __future__ import annotations

import math

import numpy as np

# pytorch-msssim's 5 scales with an 11-pixel window need sides above this.
MS_SSIM_MIN_SIDE = 161


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all channels (inf for identical images)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (data range 255) of (H, W, C) images, None when they are too small."""
    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    # Imported here: MS-SSIM needs torch, and a plain decode should not load it.
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def plane(x: np.ndarray, c: int) -> torch.Tensor:
        return torch.from_numpy(x[:, :, c].astype(np.float32))[None, None]

    # pytorch-msssim averages per-channel scores: one channel at a time gives
    # the same value with a third of the memory (1.5 GB at 3072x2048 otherwise)
    return float(np.mean([float(_ms_ssim(plane(a, c), plane(b, c), data_range=255.0))
                          for c in range(a.shape[2])]))
