"""benchmarks.multi_fit's bookkeeping on tiny images: three ways of fitting, and rd's files."""
import json

import numpy as np
from PIL import Image

from benchmarks import multi_fit
from pranc_codec import codec

QUICK = ["--preset", "fast", "--iterations", "6", "--lam", "0.01"]


def _images(folder, shapes):
    from skimage.data import astronaut

    folder.mkdir()
    photo = astronaut()
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(np.ascontiguousarray(photo[100 + 20 * i:100 + 20 * i + h, 200:200 + w])).save(
            folder / f"im{i}.png")
    return folder


def test_alone_other_seed_and_together(tmp_path, capsys):
    images = _images(tmp_path / "images", [(20, 24), (24, 20)])  # the second turned
    assert multi_fit.main(["--images", str(images), "--crop", "none", "--out", str(tmp_path / "out"),
                           *QUICK]) == 0
    result = json.loads((tmp_path / "out" / "multi_fit.json").read_text())
    assert [r["image"] for r in result["rows"]] == ["im0", "im1"]
    assert all(r["j_single"] > 0 and r["j_batched"] > 0 and r["j_other_seed"] > 0
               for r in result["rows"])
    assert "mean J together against alone" in capsys.readouterr().out


def test_against_rds_cached_files(tmp_path, capsys):
    images = _images(tmp_path / "images", [(20, 24), (20, 24)])
    cache, quick = tmp_path / "rd" / "cache" / "pranc", QUICK[2:]  # the default preset
    assert multi_fit.main(["--images", str(images), "--cached", str(tmp_path / "rd"), *QUICK]) == 2
    assert multi_fit.main(["--images", str(images), "--cached", str(tmp_path / "rd"), *quick]) == 2
    assert "no lam=0.01 file of im0, im1" in capsys.readouterr().out
    for p in sorted(images.glob("*.png")):
        (cache / p.stem).mkdir(parents=True)
        data = codec.encode(np.asarray(Image.open(p)), iterations=6, lam=0.01)
        (cache / p.stem / "lam=0.01.bin").write_bytes(data)
    assert multi_fit.main(["--images", str(images), "--cached", str(tmp_path / "rd"),
                           "--out", str(tmp_path / "out"), *quick]) == 0
    rows = json.loads((tmp_path / "out" / "multi_fit_cached.json").read_text())["rows"]
    assert len(rows) == 2 and all(r["j_single"] > 0 and r["j_batched"] > 0 for r in rows)
