"""The entropy model's precision: a file's latent bits against the float model's."""
import shutil

from benchmarks import entropy_precision
from tests.conftest import DATA


def test_each_grid_is_priced_three_ways_and_other_versions_are_skipped(tmp_path, capsys):
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("v1_16x12.prc", "v2_24x20.prc"):
        shutil.copy(DATA / name, folder / name)
    assert entropy_precision.main([str(folder), "--out", str(tmp_path / "out")]) == 0
    assert "skipped" in capsys.readouterr().out  # the v1 file
    rows = [line.split("|")[1:-1] for line in
            (tmp_path / "out" / "entropy-precision.md").read_text().splitlines()
            if line.startswith("| all |")]
    grids = entropy_precision.grid_bits((DATA / "v2_24x20.prc").read_bytes())
    assert len(rows) == len(grids) + 1 and rows[-1][1].strip() == "**all**"
    for latents, estimate, fixed, coded in grids:
        # the fixed-point model is within a few per cent of the float one on a tiny
        # grid, and rANS spends its ideal code length plus at most its flush
        assert abs(fixed - estimate) <= 0.05 * estimate + 2
        assert fixed - 1 <= coded <= fixed + 64 + 32


def test_no_v2_file_is_an_error(tmp_path):
    shutil.copy(DATA / "v1_16x12.prc", tmp_path / "a.prc")
    assert entropy_precision.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 1
