"""The Cool-chic side by side, against a stand-in checkout (CI has no Cool-chic)."""
import json
import sys
import textwrap

import numpy as np
from PIL import Image

from benchmarks import peer_coolchic

# A stand-in with Cool-chic's command lines: JPEG files, the quality from lambda.
ENCODE = textwrap.dedent("""
    import argparse, pathlib
    from PIL import Image
    p = argparse.ArgumentParser()
    for a in ("-i", "-o", "--workdir", "--lmbda", "--n_itr", "--dec_cfg_residue"):
        p.add_argument(a)
    a = p.parse_args()
    with open("calls.txt", "a") as f:
        f.write(a.n_itr + " " + a.dec_cfg_residue + "\\n")
    Image.open(a.i).save(a.o, format="JPEG", quality=95 if float(a.lmbda) < 1e-3 else 5)
""")
DECODE = textwrap.dedent("""
    import argparse
    from PIL import Image
    p = argparse.ArgumentParser()
    p.add_argument("-i"); p.add_argument("-o")
    a = p.parse_args()
    Image.open(a.i).save(a.o)
""")


def test_no_checkout_is_one_line_and_nothing_else(tmp_path, capsys):
    assert peer_coolchic.main(["--images", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.count("\n") == 1 and not (tmp_path / "o").exists()


def test_crops_go_through_the_checkouts_encoder_and_decoder_once(tmp_path):
    checkout, images = tmp_path / "cool-chic", tmp_path / "images"
    checkout.mkdir()
    images.mkdir()
    (checkout / "cc_encode.py").write_text(ENCODE)
    (checkout / "cc_decode.py").write_text(DECODE)
    rng = np.random.default_rng(0)
    smooth = np.linspace(0, 255, 400)[None, :, None] * np.ones((300, 1, 3))
    Image.fromarray((smooth + rng.normal(0, 4, smooth.shape)).clip(0, 255).astype(np.uint8)).save(
        images / "a.png")
    argv = ["--coolchic", str(checkout), "--python", sys.executable, "--images", str(images),
            "--out", str(tmp_path / "out"), "--names", "a", "--lams", "0.004,0.0001",
            "--iterations", "7"]
    assert peer_coolchic.main(argv) == 0
    assert peer_coolchic.main(argv) == 0  # cached: not encoded again
    assert (checkout / "calls.txt").read_text().splitlines() == ["7 cfg/dec/intra/hop.cfg"] * 2
    rows = json.loads((tmp_path / "out" / "rows.json").read_text())
    assert [r["lam"] for r in rows] == [0.004, 0.0001]
    for r in rows:
        assert r["j"] == 10 ** (-r["psnr"] / 10) + r["lam"] * r["bpp"]
    fine, coarse = sorted(rows, key=lambda r: r["bpp"], reverse=True)
    assert fine["psnr"] > coarse["psnr"] + 3  # quality 95 against 5
    curve = json.loads((tmp_path / "out" / "cool-chic-peer.json").read_text())
    assert len(curve["results"]["bpp"]) == 2
    assert "| a | 0.004 | 7 |" in (tmp_path / "out" / "peer-coolchic.md").read_text()
