"""The convergence benchmark: whole-image fits of growing length on crops, J of each file."""
import json

import numpy as np
from PIL import Image

from benchmarks import convergence


def test_rows_are_cached_and_the_table_says_whether_j_falls(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    smooth = np.linspace(0, 255, 400, dtype=np.float32)[None, :, None] * np.ones((300, 1, 3))
    Image.fromarray((smooth + rng.normal(0, 8, smooth.shape)).clip(0, 255).astype(np.uint8)).save(
        images / "a.png")
    out = tmp_path / "out"
    argv = ["--images", str(images), "--out", str(out), "--names", "a", "--lams", "0.01",
            "--iterations", "2,6", "--preset", "fast"]
    assert convergence.main(argv) == 0
    rows = json.loads((out / "rows.json").read_text())
    assert sorted(r["iterations"] for r in rows) == [2, 6]
    for r in rows:
        assert r["j"] == np.float64(10 ** (-r["psnr"] / 10) + 0.01 * r["bpp"])
    assert convergence.main(argv) == 0  # resumed: nothing fitted again
    assert json.loads((out / "rows.json").read_text()) == rows
    table = (out / "convergence-fast-cpu.md").read_text()
    falls = rows[1]["j"] < rows[0]["j"] if rows[0]["iterations"] == 2 else rows[0]["j"] < rows[1]["j"]
    assert table.splitlines()[2].endswith("| yes |" if falls else "| no |")


def test_crop_is_the_centre_384x256(tmp_path):
    pixels = np.arange(512 * 768 * 3, dtype=np.uint32).reshape(512, 768, 3).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    assert np.array_equal(convergence.crop(tmp_path / "p.png"), pixels[128:384, 192:576])


def test_a_variant_is_its_own_table_and_a_changed_codec_fits_again(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (260, 390, 3), dtype=np.uint8)).save(
        images / "a.png")
    out = tmp_path / "out"
    argv = ["--images", str(images), "--out", str(out), "--names", "a", "--lams", "0.01",
            "--iterations", "2", "--preset", "fast"]
    assert convergence.main(argv + ["--set", "arm_width=4", "--set", "syn_width=8"]) == 0
    assert (out / "convergence-fast-cpu-arm_width=4-syn_width=8.md").exists()
    assert convergence.main(argv) == 0
    monkeypatch.setattr(convergence.Pranc, "version", "changed")
    assert convergence.main(argv) == 0
    rows = json.loads((out / "rows.json").read_text())
    assert sorted((r["variant"], r["version"] == "changed") for r in rows) == [
        ("", False), ("", True), ("arm_width=4,syn_width=8", False)]
