"""gpu_check --curve's bookkeeping, on the CPU: rows as rd caches them, resumable."""
import numpy as np
from PIL import Image

from benchmarks import gpu_check, rd
from benchmarks.codecs import PrancGpu
from pranc_codec.latent import settings
from tests.conftest import LATENT_TINY


def test_curve_rows_are_rds_and_a_rerun_resumes(tmp_path, monkeypatch):
    from skimage.data import astronaut

    images = tmp_path / "images"
    images.mkdir()
    photo = astronaut()
    for i, (h, w) in enumerate([(24, 28), (24, 28), (20, 28)]):
        Image.fromarray(np.ascontiguousarray(photo[100 + 30 * i:100 + 30 * i + h, 200:200 + w])).save(
            images / f"im{i}.png")
    # the gpu preset's bookkeeping with a tiny CPU fit
    monkeypatch.setitem(settings.PRESETS, "gpu", settings.LatentSettings(**LATENT_TINY))
    monkeypatch.setattr(PrancGpu, "points", [{"lam": 0.01}, {"lam": 0.004}])
    paths = sorted(images.glob("*.png"))
    gpu_check.run_curve(paths, tmp_path / "out", together=2, budget=600)
    cache, codec = rd.Cache(tmp_path / "out" / "cache"), PrancGpu()
    rows = [cache.get(codec, p.stem, point) for p in paths for point in codec.points]
    assert all(r is not None and r.bpp > 0 and r.psnr > 15 for r in rows)
    assert all(cache.file(codec.name, r.image, r.point) for r in rows)
    calls = []
    monkeypatch.setattr(gpu_check.codec, "encode_many", lambda *a, **k: calls.append(a))
    gpu_check.run_curve(paths, tmp_path / "out", together=2, budget=600)
    assert calls == []  # everything cached: nothing fitted again
