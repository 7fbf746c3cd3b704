"""The latent pyramid of format v2: grid shapes and bilinear upsampling (numpy).

Grid l (levels l0 .. l0 + L - 1) is ceil(H / 2^l) x ceil(W / 2^l) integers.
Each is upsampled to full resolution by bilinear interpolation, exactly as
torch's ``interpolate(scale_factor=2^l, mode="bilinear", align_corners=False)``
then cropped to H x W: output row i reads source row
``max(0, (i + 0.5) / 2^l - 0.5)``, split into its floor and the fraction.
The fit uses torch's function; the decoder this one, a band of rows at a time.
"""
from __future__ import annotations

import numpy as np

# Latent values are clamped to [-LATENT_MAX, LATENT_MAX]: the entropy model's alphabet.
LATENT_MAX = 127


def grid_shapes(height: int, width: int, l0: int, levels: int) -> list[tuple[int, int]]:
    """(rows, columns) of every grid, finest (level l0) first."""
    return [(-(-height // 2**lv), -(-width // 2**lv)) for lv in range(l0, l0 + levels)]


def taps(n_out: int, n_in: int, level: int, start: int = 0):
    """Source indices and weights of outputs start .. start + n_out - 1 along one axis."""
    i = np.arange(start, start + n_out, dtype=np.float32)
    src = np.maximum((i + np.float32(0.5)) * np.float32(2.0**-level) - np.float32(0.5),
                     np.float32(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = (src - i0.astype(np.float32)).astype(np.float32)
    return i0, i1, frac[:, None], np.float32(1.0) - frac[:, None]


def upsample_rows(grid: np.ndarray, level: int, width: int, r0: int, r1: int) -> np.ndarray:
    """Rows r0 .. r1 - 1 of grid ``level`` upsampled to full resolution, (r1 - r0, width) float32."""
    g = np.asarray(grid, dtype=np.float32)  # a float32 grid is used as it is, not copied
    y0, y1, fy, gy = taps(r1 - r0, g.shape[0], level, r0)
    rows = g[y0] * gy + g[y1] * fy
    x0, x1, fx, gx = taps(width, g.shape[1], level)
    return rows[:, x0] * gx.T + rows[:, x1] * fx.T


def features(grids: list[np.ndarray], levels: list[int], width: int, r0: int,
             r1: int) -> np.ndarray:
    """The synthesis input of rows r0 .. r1 - 1: (r1 - r0, width, L) float32."""
    return np.stack([upsample_rows(g, lv, width, r0, r1) for g, lv in zip(grids, levels)], axis=-1)
