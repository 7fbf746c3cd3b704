"""The entropy model's precision: a file's latent bits against the float model's."""
import shutil

from benchmarks import entropy_precision
from tests.conftest import DATA


def test_each_grid_is_priced_in_both_versions_and_v1_is_skipped(tmp_path, capsys):
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("v1_16x12.prc", "v2_24x20.prc", "v3_24x20.prc"):
        shutil.copy(DATA / name, folder / name)
    assert entropy_precision.main([str(folder), "--out", str(tmp_path / "out")]) == 0
    assert "skipped" in capsys.readouterr().out  # the v1 file
    rows = [line.split("|")[1:-1] for line in
            (tmp_path / "out" / "entropy-precision.md").read_text().splitlines()
            if line.startswith("| all |")]
    grids, (coded_v3, file_v2, file_v3) = entropy_precision.latent_bits(
        (DATA / "v2_24x20.prc").read_bytes())
    # the v3 file is the v2 one upgraded: the same latents, priced the same
    assert entropy_precision.latent_bits((DATA / "v3_24x20.prc").read_bytes()) \
        == (grids, [coded_v3, file_v2, file_v3])
    assert len(rows) == len(grids) + 1 and rows[-1][1].strip() == "**all**"
    assert rows[-1][2].strip() == "2"  # both files
    for latents, estimate, fixed_v2, fixed_v3, coded_v2 in grids:
        # each fixed-point model is within a few per cent of the float one on a
        # tiny grid, and rANS spends its ideal code length plus at most its flush
        for fixed in (fixed_v2, fixed_v3):
            assert abs(fixed - estimate) <= 0.05 * estimate + 2
        assert fixed_v2 - 1 <= coded_v2 <= fixed_v2 + 64 + 32
    fixed_v3 = sum(g[3] for g in grids)
    assert fixed_v3 - 1 <= coded_v3 <= fixed_v3 + 64 + 32
    assert file_v3 == 8 * len((DATA / "v3_24x20.prc").read_bytes())
    assert file_v2 == 8 * len((DATA / "v2_24x20.prc").read_bytes())


def test_no_latent_file_is_an_error(tmp_path):
    shutil.copy(DATA / "v1_16x12.prc", tmp_path / "a.prc")
    assert entropy_precision.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 1
