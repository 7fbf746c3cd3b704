"""Pipes, output formats and logs: the command line's conventions."""
import io
import sys

import numpy as np
import pytest
from PIL import Image

from pranc_codec import codec
from pranc_codec.cli import main

QUICK = ["--preset", "fast", "--iterations", "10"]


@pytest.fixture
def png(tmp_path, photo):
    path = tmp_path / "in.png"
    Image.fromarray(photo).save(path)
    return path


class Pipe:
    """A stand-in for sys.stdin / sys.stdout with a binary buffer."""

    def __init__(self, data: bytes = b""):
        self.buffer = io.BytesIO(data)

    def write(self, text: str) -> None:  # text a test would not want in the pipe
        raise AssertionError(f"text written to the binary pipe: {text!r}")

    def flush(self) -> None:
        pass


def test_stdin_to_stdout_for_every_command(monkeypatch, png, capsys):
    out = Pipe()
    monkeypatch.setattr(sys, "stdin", Pipe(png.read_bytes()))
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["encode", "-", "-", *QUICK]) == 0
    prc = out.buffer.getvalue()
    assert prc.startswith(b"PRNC") and "bpp" in capsys.readouterr().err
    decoded = Pipe()
    monkeypatch.setattr(sys, "stdin", Pipe(prc))
    monkeypatch.setattr(sys, "stdout", decoded)
    assert main(["decode", "-", "-"]) == 0
    image = np.asarray(Image.open(io.BytesIO(decoded.buffer.getvalue())))
    assert np.array_equal(image, codec.decode(prc))
    monkeypatch.undo()  # stdout back to capsys, for info's report
    monkeypatch.setattr(sys, "stdin", Pipe(prc))
    assert main(["info", "-"]) == 0
    assert "format version 3" in capsys.readouterr().out
    upgraded = Pipe()
    monkeypatch.setattr(sys, "stdin", Pipe(prc))
    monkeypatch.setattr(sys, "stdout", upgraded)
    assert main(["upgrade", "-", "-"]) == 0
    assert upgraded.buffer.getvalue() == prc  # already the latest version


def test_unwritable_output_fails_before_the_fit(tmp_path, png, capsys, monkeypatch):
    monkeypatch.setattr(codec, "encode", lambda *a, **k: pytest.fail("fitted first"))
    assert main(["encode", str(png), str(tmp_path / "missing" / "x.prc")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["encode", str(png), str(tmp_path)]) == 1  # a directory
    assert "is a directory" in capsys.readouterr().err


def test_a_log_gets_lines_not_bar_frames(tmp_path, png, capsys):
    assert main(["encode", str(png), str(tmp_path / "x.prc"), *QUICK]) == 0
    err = capsys.readouterr().err
    assert "fitting" in err and "\r" not in err  # captured output is no terminal


@pytest.mark.parametrize("suffix", [".tif", ".bmp", ".ppm", ".webp", ".tga"])
def test_decode_writes_the_lossless_format_its_extension_names(tmp_path, png, suffix):
    prc = tmp_path / "x.prc"
    assert main(["encode", str(png), str(prc), *QUICK, "--quiet"]) == 0
    out = tmp_path / f"x{suffix}"
    assert main(["decode", str(prc), str(out), "--quiet"]) == 0
    with Image.open(out) as img:
        assert img.format == {".tif": "TIFF", ".ppm": "PPM"}.get(suffix, suffix[1:].upper())
        assert np.array_equal(np.asarray(img.convert("RGB")), codec.decode(prc.read_bytes()))


def test_decode_refuses_a_lossy_format(tmp_path, png, capsys):
    prc = tmp_path / "x.prc"
    assert main(["encode", str(png), str(prc), *QUICK, "--quiet"]) == 0
    assert main(["decode", str(prc), str(tmp_path / "x.jpg")]) == 1
    assert "lossless" in capsys.readouterr().err
