import csv
import json
import re

import numpy as np
import pytest
from PIL import Image

from benchmarks import codecs, rd
from benchmarks.codecs import CODECS, DEFAULT_CODECS

SCHEMA = {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
# One tiny operating point per codec (two for jpeg and webp, so a BD-rate has curves).
FIT = "depth=2,steps=300"
POINTS = [
    "jpeg=quality=30;quality=80", "webp=quality=50;quality=90", "avif=quality=50",
    "jpeg2000=bpp=2", "jxl=quality=50", "pranc-siren=width=16,k=200,chunk=32,batch=1024," + FIT,
    "pranc=iterations=120,levels=3,syn_width=12,arm_width=8,chunk=32,min_basis=64,lam=0.001",
    "coin=width=8," + FIT, "coin-q8=width=8," + FIT,
]


@pytest.fixture
def images(tmp_path):
    """Two 32x32 RGB crops of real photos."""
    from skimage.data import astronaut, coffee

    folder = tmp_path / "images"
    folder.mkdir()
    for name, photo in (("a", astronaut()[200:232, 200:232]), ("b", coffee()[100:132, 300:332])):
        Image.fromarray(np.ascontiguousarray(photo)).save(folder / f"{name}.png")
    return folder


def run(images, out, *extra):
    args = ["--images", str(images), "--out", str(out), "--quiet", "--jobs", "1"]
    return rd.main(args + [a for p in POINTS for a in ("--points", p)] + list(extra))


def test_every_codec_end_to_end_and_resumes_from_cache(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run(images, out) == 0
    for name in DEFAULT_CODECS:
        result = json.loads((out / f"{name}.json").read_text())
        assert set(result) == {"name", "description", "results"} and result["name"] == name
        assert set(result["results"]) == SCHEMA
        lengths = {len(v) for v in result["results"].values()}
        assert lengths == {2 if name in ("jpeg", "webp") else 1}
        assert all(b > 0 for b in result["results"]["bpp"])
        assert result["results"]["ms-ssim-rgb"] == [None] * lengths.pop()  # 32 px: too small
    with open(out / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (len(DEFAULT_CODECS) + 2)
    # every codec, the INRs too, is well above a flat grey image (about 11 dB here)
    assert all(float(r["psnr"]) > 16 for r in rows), [(r["codec"], r["psnr"]) for r in rows]
    for name in ("rd-psnr.png", "rd-msssim.png", "comparison.png"):
        assert (out / name).stat().st_size > 1000
    summary = (out / "summary.md").read_text()
    assert "| pranc | jpeg | n/a |" in summary  # one point: no curve
    webp = next(line for line in summary.splitlines() if line.startswith("| webp | jpeg |"))
    assert webp.split("|")[3].strip().endswith(" %")  # two curves overlapping in PSNR

    def fail(*args):
        raise AssertionError("a cached result was recomputed")

    monkeypatch.setattr(rd, "measure", fail)
    assert run(images, out) == 0


def line_curve(db: float) -> list[dict]:
    """Four points of a straight PSNR-rate line db dB high at zero rate (no MS-SSIM)."""
    return [{"bpp": b, "psnr-rgb": db + 4 * b, "ms-ssim-rgb": None} for b in (0.05, 0.1, 0.2, 0.4)]


def test_each_preset_is_measured_against_the_other_codecs_and_the_default():
    curves = {"jpeg": line_curve(23), "webp": line_curve(25), "pranc": line_curve(25.5),
              "pranc-best": line_curve(26.5)}
    pairs = {(t["codec"], t["anchor"]): t for t in rd.bd_tables(curves)}
    assert set(pairs) == {("webp", "jpeg"), ("pranc", "jpeg"), ("pranc-best", "jpeg"),
                          ("pranc", "webp"), ("pranc-best", "webp"), ("pranc-best", "pranc")}
    assert abs(pairs["pranc-best", "webp"]["bd_psnr"] - 1.5) < 1e-6


def test_stale_version_is_recomputed(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["--images", str(images), "--out", str(out), "--quiet", "--jobs", "1",
            "--codecs", "jpeg", "--points", "jpeg=quality=50"]
    assert rd.main(args) == 0
    cached = out / "cache" / "jpeg" / "a.json"
    table = json.loads(cached.read_text())
    table["quality=50"]["version"] = "old"
    cached.write_text(json.dumps(table))
    seen = []
    real = rd.measure
    monkeypatch.setattr(rd, "measure", lambda *a: seen.append(a[1]) or real(*a))
    assert rd.main(args) == 0
    assert [p.rsplit("/", 1)[-1] for p in seen] == ["a.png"]


def test_parallel_jobs_give_the_same_files(images, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    common = ["--images", str(images), "--quiet", "--codecs", "jpeg,webp",
              "--points", "jpeg=quality=40;quality=90"]
    assert rd.main(common + ["--out", str(serial), "--jobs", "1"]) == 0
    assert rd.main(common + ["--out", str(parallel), "--jobs", "2"]) == 0
    for name in ("a", "b"):
        for point in ("quality=40", "quality=90"):
            one, two = (json.loads((d / "cache" / "jpeg" / f"{name}.json").read_text())[point]
                        for d in (serial, parallel))
            assert one["bytes"] == two["bytes"] and one["psnr"] == two["psnr"]


@pytest.mark.parametrize("bad", [["--codecs", "nope"], ["--points", "jpeg"],
                                 ["--points", "pranc=k=5", "--codecs", "jpeg"],
                                 ["--only", "a,nope"]])
def test_bad_arguments_exit_with_a_message(images, tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        rd.main(["--images", str(images), "--out", str(tmp_path / "o")] + bad)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_only_picks_images_by_name(images, tmp_path):
    out = tmp_path / "out"
    assert rd.main(["--images", str(images), "--out", str(out), "--quiet", "--jobs", "1",
                    "--codecs", "jpeg", "--points", "jpeg=quality=50", "--only", "b"]) == 0
    assert sorted(p.name for p in (out / "cache" / "jpeg").glob("*.json")) == ["b.json"]


def test_preset_codecs_fit_with_their_preset(monkeypatch):
    seen = []
    monkeypatch.setattr(codecs.prc, "encode", lambda image, **kw: seen.append(kw) or b"")
    image = np.zeros((8, 8, 3), np.uint8)
    for name in ("pranc", "pranc-fast", "pranc-best"):
        CODECS[name]().encode(image, {"lam": 0.01})
    assert seen == [{"lam": 0.01}, {"preset": "fast", "lam": 0.01},
                    {"preset": "best", "lam": 0.01}]
    # separate cache labels, and not in a run that does not name them
    assert len({CODECS[n]().version for n in ("pranc", "pranc-fast", "pranc-best")}) == 3
    assert "pranc-best" not in DEFAULT_CODECS and "pranc" in DEFAULT_CODECS


def test_points_parser():
    assert rd.parse_points(["pranc=k=1500,steps=3;k=2.5,preset=fast,direct_ends=False"]) == {
        "pranc": [{"k": 1500, "steps": 3},
                  {"k": 2.5, "preset": "fast", "direct_ends": False}]}


def test_same_rate_comparison():
    from benchmarks import report

    def curve(*pts):
        return [{"point": f"p{i}", "bpp": b, "psnr-rgb": q} for i, (b, q) in enumerate(pts)]

    jpeg = curve((0.1, 20.0), (0.4, 26.0))
    assert report.psnr_at(jpeg, 0.2) == pytest.approx(23.0)  # halfway in log rate
    assert report.psnr_at(jpeg, 0.05) is None and report.psnr_at(jpeg, 0.5) is None
    lines = report.same_rate_lines({"pranc": curve((0.05, 19.0), (0.2, 24.0)), "jpeg": jpeg},
                                   "pranc")
    assert "| p0 | 0.0500 | 19.00 |  |" in lines
    assert "| p1 | 0.2000 | 24.00 | 23.00 (+1.00) |" in lines


def test_rate_control_lists_every_image_and_resumes(images, tmp_path, monkeypatch):
    from benchmarks import rate_control

    args = ["--images", str(images), "--out", str(tmp_path / "rc"), "--targets", "8",
            "--preset", "fast"]
    assert rate_control.main(args) == 0
    text = (tmp_path / "rc" / "rate_control.md").read_text()
    assert "| a | 8.0 |" in text and "| b | 8.0 |" in text
    assert "| 8.0 | 2 |" in text  # the summary row
    monkeypatch.setattr(rd, "measure", lambda *a: pytest.fail("not resumed"))
    assert rate_control.main(args) == 0


def test_ablation_table_adds_up_runs_of_a_few_variants(images, tmp_path):
    from benchmarks import ablation

    short = ["1/4 iterations", "whole image per iteration (stride 1) for 150 iterations"]
    args = ["--images", str(images), "--out", str(tmp_path / "ab"), "--names", "a", "--rates", "8"]
    assert not any("," in v for v in ablation.VARIANTS)  # --variants splits at commas
    for variant in short:
        assert ablation.main(args + ["--variants", variant]) == 0
    table = (tmp_path / "ab" / "ablation.md").read_text()
    assert [line.split(" | ")[0] for line in table.splitlines() if "| 8.0 |" in line] == \
        [f"| {v}" for v in ablation.VARIANTS if v in short]


def test_ablation_by_lambda_compares_each_variant_with_the_default_curve(images, tmp_path):
    from benchmarks import ablation

    variants = f"{ablation.DEFAULT},{ablation.DIRECT},1/4 iterations"
    args = ["--images", str(images), "--out", str(tmp_path / "ab"), "--names", "a",
            "--lams", "0.1,0.01", "--variants", variants]
    assert ablation.main(args) == 0
    lines = (tmp_path / "ab" / "ablation-lam.md").read_text().splitlines()
    cells = [line.split(" | ") for line in lines if line.startswith("| ")]
    rows = [c for c in cells if c[1] in ("0.1", "0.01")]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (f"| {v}", lam) for v in variants.split(",") for lam in ("0.01", "0.1"))
    # the default's own rows meet its curve exactly; the variant's sit on it or off it
    assert all(r[-1].endswith("(+0.00) |") for r in rows if r[0] == f"| {ablation.DEFAULT}")
    # one Bjontegaard line per variant, against the default, the direct
    # networks and its own networks coded directly (n/a here: a 32x32
    # image's curves, mostly header, need not overlap)
    table = [[x.strip() for x in line.strip("|").split("|")] for line in lines]
    bd = {c[0]: c[1:] for c in table if len(c) == 7 and "BD" not in c[1] and c[0] != "---"}
    assert set(bd) == set(variants.split(","))
    delta = r"(n/a|[+-]\d+\.\d\d %)"
    assert re.fullmatch(delta, bd["1/4 iterations"][0]) and re.fullmatch(delta, bd["1/4 iterations"][2])
    assert bd[ablation.DEFAULT][:2] == ["", ""] and bd[ablation.DIRECT][2:] == ["", "", "", ""]
    # the default's networks coded directly are the direct networks; 1/4
    # iterations has no directly coded twin among the variants
    assert bd[ablation.DEFAULT][4:] == bd[ablation.DEFAULT][2:4] and bd["1/4 iterations"][4:] == ["", ""]


def test_each_larger_network_is_compared_with_itself_coded_directly():
    from benchmarks.ablation import DEFAULT, DIRECT, direct_twin

    assert direct_twin(DEFAULT) == DIRECT and direct_twin(DIRECT) is None
    assert direct_twin("PRANC at 1/3 coefficients per parameter") == DIRECT
    assert direct_twin("larger PRANC synthesis (64 wide)") == "64-wide synthesis with direct networks"
    assert direct_twin("3 synthesis layers with PRANC for the two largest") == \
        "3 synthesis layers with direct networks"
    assert direct_twin("entropy model: 6 neighbours") is None


def test_equal_architecture_column_stands_alone_without_the_default_curves():
    from benchmarks import ablation

    pranc, direct = "larger PRANC synthesis (64 wide)", "64-wide synthesis with direct networks"
    lines = ablation._bd_lines({pranc: line_curve(25.5), direct: line_curve(25.0)})
    rows = [[x.strip() for x in line.strip("|").split("|")] for line in lines if line]
    assert rows[0] == ["variant", "BD-rate against the same networks coded directly", "BD-PSNR"]
    assert rows[2][0] == pranc and rows[2][2] == "+0.50 dB" and len(rows) == 3


def test_published_curves_join_a_run_over_the_24_kodak_images_only(tmp_path):
    folder = tmp_path / "kodak"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 25):
        Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(folder / f"kodim{i:02d}.png")
    common = ["--quiet", "--jobs", "1", "--codecs", "jpeg", "--points", "jpeg=quality=30;quality=80"]
    assert rd.main(["--images", str(folder), "--out", str(tmp_path / "all")] + common) == 0
    summary = (tmp_path / "all" / "summary.md").read_text()
    for name in ("cool-chic-5", "c3"):
        assert f"| {name} | jpeg |" in summary and f"| {name} | published 0 |" in summary
    assert rd.main(["--images", str(folder), "--out", str(tmp_path / "some"), "--limit", "3"]
                   + common) == 0
    assert "cool-chic" not in (tmp_path / "some" / "summary.md").read_text()
