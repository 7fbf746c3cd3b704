import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pranc_codec.cli import main
from pranc_codec.metrics import psnr
from pranc_codec.siren import bitstream

QUICK = ["--arch", "siren", "--preset", "fast", "--steps", "40", "--width", "16", "--k", "100"]
LATENT_QUICK = ["--iterations", "20"]


@pytest.fixture
def png(tmp_path, photo):
    path = tmp_path / "in.png"
    Image.fromarray(photo).save(path)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_encode_info_decode(tmp_path, png, capsys):
    prc, out = tmp_path / "x.prc", tmp_path / "x.png"
    assert main(["encode", str(png), str(prc), *QUICK]) == 0
    report = capsys.readouterr().out
    assert "bpp" in report and "PSNR" in report
    assert main(["info", str(prc)]) == 0
    info = capsys.readouterr().out
    for name in ("width", "height", "channels", "inr_width", "inr_depth", "w0", "seed",
                 "n_groups", "payload", "bits per pixel", "group 0"):
        assert name in info
    assert main(["decode", str(prc), str(out), "--compare", str(png)]) == 0
    decoded_report = capsys.readouterr().out
    # the PSNR encode reported is the PSNR of the decoded file
    reported = report.split("PSNR ")[1].split(" dB")[0]
    decoded = np.asarray(Image.open(out))
    original = np.asarray(Image.open(png))
    assert f"{psnr(original, decoded):.2f}" == reported
    assert f"PSNR {reported} dB" in decoded_report


def test_latent_encode_info_decode(tmp_path, png, capsys):
    prc, out = tmp_path / "v3.prc", tmp_path / "v3.png"
    assert main(["encode", str(png), str(prc), *LATENT_QUICK, "--lam", "0.003"]) == 0
    reported = capsys.readouterr().out.split("PSNR ")[1].split(" dB")[0]
    assert main(["info", str(prc)]) == 0
    info = capsys.readouterr().out
    for name in ("format version 3", "levels", "syn_width", "arm_context", "group 0",
                 "latent grids: ", "in one stream", "coefficients", "bits per pixel"):
        assert name in info
    assert main(["decode", str(prc), str(out), "--compare", str(png)]) == 0
    assert f"PSNR {reported} dB" in capsys.readouterr().out


def test_upgrade_rewrites_a_v2_file_as_v3(tmp_path, capsys):
    from tests.conftest import DATA

    out = tmp_path / "v3.prc"
    assert main(["upgrade", str(DATA / "v2_24x20.prc"), str(out)]) == 0
    assert "format version 3" in capsys.readouterr().out
    assert out.read_bytes() == (DATA / "v3_24x20.prc").read_bytes()
    assert main(["info", str(DATA / "v2_24x20.prc")]) == 0
    assert "latent grid 1: " in capsys.readouterr().out  # v2: a stream per grid
    assert main(["upgrade", str(DATA / "v1_16x12.prc"), str(tmp_path / "v1.prc")]) == 1
    assert "version 1" in one_line_error(capsys)
    assert not (tmp_path / "v1.prc").exists()


def test_options_of_the_other_arch_are_refused(tmp_path, png, capsys):
    assert main(["encode", str(png), str(tmp_path / "o.prc"), "--width", "16"]) == 1
    assert "--width only applies to the other --arch" in one_line_error(capsys)
    assert main(["encode", str(png), str(tmp_path / "o.prc"), "--arch", "siren",
                 "--quality", "50"]) == 1
    assert "--quality only applies to the other --arch" in one_line_error(capsys)


def test_quiet_prints_nothing(tmp_path, png, capsys):
    assert main(["encode", str(png), str(tmp_path / "q.prc"), *QUICK, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_missing_input(tmp_path, capsys):
    assert main(["encode", str(tmp_path / "none.png"), str(tmp_path / "o.prc")]) == 1
    assert "no such file" in one_line_error(capsys)
    assert main(["decode", str(tmp_path / "none.prc"), str(tmp_path / "o.png")]) == 1
    assert "no such file" in one_line_error(capsys)


def test_not_an_image(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"hello")
    assert main(["encode", str(bad), str(tmp_path / "o.prc")]) == 1
    assert "not an image" in one_line_error(capsys)


def test_malformed_prc_keeps_existing_output(tmp_path, capsys):
    bad = tmp_path / "bad.prc"
    bad.write_bytes(b"PRNC\x01garbage")
    out = tmp_path / "keep.png"
    out.write_bytes(b"precious")
    assert main(["decode", str(bad), str(out)]) == 1
    assert "truncated" in one_line_error(capsys)
    assert out.read_bytes() == b"precious"
    assert main(["info", str(bad)]) == 1
    one_line_error(capsys)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unwritable_output(tmp_path, png, capsys):
    assert main(["encode", str(png), str(tmp_path / "no" / "dir" / "o.prc"), *QUICK]) == 1
    assert "does not exist" in one_line_error(capsys)


def test_bad_setting_is_one_line(tmp_path, png, capsys):
    assert main(["encode", str(png), str(tmp_path / "o.prc"), "--seed", "-3"]) == 1
    assert "seed" in one_line_error(capsys)


@pytest.mark.parametrize("mode,channels,note", [
    ("P", 3, "palette image converted to RGB"),
    ("I;16", 1, "16-bit greyscale"),
    ("LA", 4, "converted to RGBA"),
    ("L", 1, None),
])
def test_modes_and_conversion_notes(tmp_path, photo, capsys, mode, channels, note):
    src = Image.fromarray(photo)
    if mode == "P":
        img = src.quantize(16)
    elif mode == "I;16":
        img = Image.fromarray((photo[:, :, 0].astype(np.uint16) * 257))
        assert img.mode == "I;16"
    else:
        img = src.convert(mode)
    path, prc, out = tmp_path / "m.png", tmp_path / "m.prc", tmp_path / "d.png"
    img.save(path)
    assert main(["encode", str(path), str(prc), *QUICK]) == 0
    err = capsys.readouterr().err
    assert (note in err) if note else err.count("note:") == 0
    assert bitstream.unpack(prc.read_bytes())[0].channels == channels
    assert main(["decode", str(prc), str(out)]) == 0
    assert Image.open(out).mode == {1: "L", 3: "RGB", 4: "RGBA"}[channels]


def test_help_and_module_entry_point():
    for args in ([], ["encode"], ["decode"], ["info"]):
        result = subprocess.run([sys.executable, "-m", "pranc_codec", *args, "--help"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "usage" in result.stdout
    result = subprocess.run([sys.executable, "-m", "pranc_codec", "decode"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2  # argparse usage error


def test_gpu_preset_without_a_gpu_is_one_line(tmp_path, png, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out = tmp_path / "g.prc"
    assert main(["encode", str(png), str(out), "--preset", "gpu"]) == 1
    assert "CUDA" in one_line_error(capsys)
    assert not out.exists()
