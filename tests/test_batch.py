"""pranc-codec batch: manifest, resuming, bad inputs, and the same files however scheduled."""
import json

import numpy as np
import pytest
from PIL import Image

from pranc_codec import batch, codec
from pranc_codec.cli import main

QUICK = ["--preset", "fast", "--iterations", "6", "--quiet"]


@pytest.fixture
def collection(tmp_path):
    """Two small photos, one in a subfolder, and a file that only looks like an image."""
    from skimage.data import astronaut, coffee

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(np.ascontiguousarray(astronaut()[200:224, 200:232])).save(src / "a.png")
    Image.fromarray(np.ascontiguousarray(coffee()[100:124, 300:320])).save(src / "sub" / "b.jpg")
    (src / "notes.txt").write_text("not an image, and not looked at")
    return src


def manifest(dst) -> list[dict]:
    return [json.loads(line) for line in (dst / batch.MANIFEST).read_text().splitlines()]


def test_batch_encodes_records_and_resumes(tmp_path, collection, capsys):
    (collection / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    dst = tmp_path / "out"
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1"]) == 1
    records = {r["source"].split("/")[-1]: r for r in manifest(dst)}
    assert records["a.png"]["status"] == "ok" and records["a.png"]["bpp"] > 0
    assert records["bad.png"]["status"] == "failed" and "bad.png" in records["bad.png"]["error"]
    assert (dst / "a.png.prc").exists() and (dst / "sub" / "b.jpg.prc").exists()
    assert "1 failed" in capsys.readouterr().err
    before = (dst / "a.png.prc").stat().st_mtime_ns
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1"]) == 1
    statuses = [r["status"] for r in manifest(dst)[3:]]
    assert sorted(statuses) == ["failed", "skipped", "skipped"]
    assert (dst / "a.png.prc").stat().st_mtime_ns == before
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1", "--force"]) == 1
    assert sorted(r["status"] for r in manifest(dst)[6:]) == ["failed", "ok", "ok"]


def test_interrupted_batch_leaves_whole_files_and_a_rerun_finishes(tmp_path, collection,
                                                                   monkeypatch):
    dst = tmp_path / "out"
    real, calls = batch.run_one, []

    def interrupted(*args):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(batch, "run_one", interrupted)
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1"]) == 130
    monkeypatch.setattr(batch, "run_one", real)
    outputs = sorted(p.name for p in dst.rglob("*") if p.is_file())
    assert outputs == ["a.png.prc", batch.MANIFEST]  # no half-written or temporary file
    # a truncated output (a node lost while copying, say) is not taken for a whole one
    (dst / "sub").mkdir()
    (dst / "sub" / "b.jpg.prc").write_bytes((dst / "a.png.prc").read_bytes()[:20])
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1"]) == 0
    assert sorted(r["status"] for r in manifest(dst)) == ["ok", "ok", "skipped"]
    assert codec.decode((dst / "sub" / "b.jpg.prc").read_bytes()).shape == (24, 20, 3)


def test_list_file_and_decode(tmp_path, collection):
    listing = tmp_path / "list.txt"
    listing.write_text(f"src/a.png\n\n{collection / 'sub' / 'b.jpg'}\n")
    dst, back = tmp_path / "out", tmp_path / "back"
    assert main(["batch", str(listing), str(dst), *QUICK, "--jobs", "1"]) == 0
    assert sorted(p.name for p in dst.rglob("*.prc")) == ["a.png.prc", "b.jpg.prc"]
    assert main(["batch", str(dst), str(back), "--decode", "--quiet", "--jobs", "1"]) == 0
    with Image.open(back / "src" / "a.png") as img:
        assert img.size == (32, 24)
    assert (back / "src" / "sub" / "b.jpg.png").exists()


def run_batch(collection, dst, *extra) -> dict[str, bytes]:
    assert main(["batch", str(collection), str(dst), *QUICK, *extra]) == 0
    return {str(p.relative_to(dst)): p.read_bytes() for p in dst.rglob("*.prc")}


def test_jobs_and_ray_write_the_same_bytes(tmp_path, collection, capsys):
    plain = run_batch(collection, tmp_path / "plain", "--jobs", "1")
    assert len(plain) == 2
    assert run_batch(collection, tmp_path / "jobs", "--jobs", "2") == plain
    pytest.importorskip("ray")
    status = main(["batch", str(collection), str(tmp_path / "ray"), *QUICK, "--ray"])
    if status and "cannot start or reach Ray" in capsys.readouterr().err:
        pytest.skip("a local Ray did not start on this machine")
    assert status == 0
    ray_files = {str(p.relative_to(tmp_path / "ray")): p.read_bytes()
                 for p in (tmp_path / "ray").rglob("*.prc")}
    assert ray_files == plain


def test_batch_fits_images_of_one_shape_together(tmp_path, collection, capsys):
    """--gpu-batch: the two 24x32 images in one multi-image fit, the 24x20 one alone,
    each file its own image's; a rate target cannot be fitted together."""
    from skimage.data import chelsea

    Image.fromarray(np.ascontiguousarray(chelsea()[100:124, 100:132])).save(collection / "c.png")
    (collection / "notes.txt").unlink()
    dst = tmp_path / "out"
    assert main(["batch", str(collection), str(dst), *QUICK, "--jobs", "1", "--gpu-batch", "3"]) == 0
    records = {r["source"].split("/")[-1]: r for r in manifest(dst)}
    assert {name: r.get("fitted_with") for name, r in records.items()} == \
        {"a.png": 2, "b.jpg": 1, "c.png": 2}
    for name, shape in (("a.png", (24, 32, 3)), ("sub/b.jpg", (24, 20, 3)), ("c.png", (24, 32, 3))):
        assert codec.decode((dst / f"{name}.prc").read_bytes()).shape == shape
        assert records[name.split("/")[-1]]["psnr"] > 15
    assert main(["batch", str(collection), str(tmp_path / "x"), *QUICK, "--gpu-batch", "2",
                 "--bpp", "0.5"]) == 1
    assert "image by image" in capsys.readouterr().err
