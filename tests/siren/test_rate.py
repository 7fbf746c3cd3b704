"""Rate control: --bpp lands within 5 %, --psnr reaches its target, misses are noted."""
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from pranc_codec import codec
from pranc_codec.cli import main
from pranc_codec.errors import RateNote
from pranc_codec.metrics import psnr
from pranc_codec.siren import bitstream, rate, settings
from pranc_codec.siren.inr import Siren

QUICK = dict(arch="siren", width=24, depth=2, steps=120, batch=4096, chunk=32)


@pytest.fixture
def face() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[40:104, 190:254])  # 64x64


def _bpp(data: bytes, image: np.ndarray) -> float:
    return len(data) * 8 / (image.shape[0] * image.shape[1])


def _encode(image, **kw) -> tuple[bytes, list[str]]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", RateNote)
        data = codec.encode(image, **{**QUICK, **kw})
    return data, [str(w.message) for w in seen if issubclass(w.category, RateNote)]


def test_bpp_targets_are_met_within_five_percent_and_more_bits_buy_quality(face):
    quality = []
    for bpp in (0.6, 1.5):
        data, notes = _encode(face, bpp=bpp)
        assert abs(_bpp(data, face) - bpp) <= 0.05 * bpp, _bpp(data, face)
        assert notes == []
        quality.append(psnr(face, codec.decode(data)))
    assert quality[1] > quality[0] + 1 and quality[0] > 18, quality


def test_unreachable_bpp_writes_the_nearest_file_with_a_note(face):
    # the header alone is about 100 bytes: 0.01 bpp of a 64x64 image is 5 bytes
    data, notes = _encode(face, bpp=0.01, steps=20)
    assert len(notes) == 1 and "out of reach" in notes[0]
    assert codec.decode(data).shape == face.shape


def test_psnr_target_is_reached_and_a_lower_one_costs_less(face):
    high, notes = _encode(face, psnr=21.0, k=150)
    assert notes == []
    assert psnr(face, codec.decode(high)) >= 21.0
    low, _ = _encode(face, psnr=18.0, k=150)
    assert 18.0 <= psnr(face, codec.decode(low)) < psnr(face, codec.decode(high))
    assert len(low) < len(high)


def test_unreachable_psnr_is_noted(face):
    data, notes = _encode(face, psnr=60.0, k=150, steps=20)
    assert len(notes) == 1 and "60.0 dB is out of reach" in notes[0]
    assert codec.decode(data).shape == face.shape


def test_k_guess_grows_with_the_target_and_stays_within_the_network(face):
    s = codec.settings_for(**QUICK)
    ks = [rate.k_for_bits(face, s, bits) for bits in (10, 1e3, 2e3, 1e9)]
    assert ks == sorted(ks) and ks[0] == 1 and ks[1] < ks[2]
    net = Siren(s.width, s.depth, 3, s.w0)
    assert ks[-1] == rate.k_limit(face, s) == sum(
        g.size for g in settings.plan_groups(net, s) if not g.direct)
    # a coarser relative step spends fewer bits a coefficient, so affords more of them
    coarse = codec.settings_for(**QUICK, rel_step=0.6)
    assert rate.k_for_bits(face, coarse, 2e3) > rate.k_for_bits(face, s, 2e3)


def test_bad_targets(face):
    for kw in (dict(bpp=0), dict(bpp=float("nan")), dict(psnr=-3), dict(bpp=1, psnr=30),
               dict(bpp=1, k=100)):
        with pytest.raises(ValueError):
            codec.encode(face, **{**QUICK, **kw})


def test_overhead_bytes_is_the_size_of_an_empty_file():
    header = bitstream.Header(width=4, height=4, channels=3, inr_width=8, inr_depth=1,
                              w0=30.0, seed=1, groups=(
        bitstream.GroupHeader(size=24, chunk=0, rank=0, scale=1.0, step=0.5, laplace=1, qmax=0),
        bitstream.GroupHeader(size=27, chunk=0, rank=0, scale=1.0, step=0.5, laplace=1, qmax=0),
    ))
    assert bitstream.overhead_bytes(2) == len(bitstream.pack(header, b""))


def test_cli_bpp_and_psnr(tmp_path, face, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(face).save(src)
    quick = ["--arch", "siren", "--steps", "120", "--width", "24", "--depth", "2"]
    assert main(["encode", str(src), str(tmp_path / "a.prc"), "--bpp", "1.0", *quick]) == 0
    assert abs(_bpp((tmp_path / "a.prc").read_bytes(), face) - 1.0) <= 0.05
    assert "bpp" in capsys.readouterr().out
    assert main(["encode", str(src), str(tmp_path / "b.prc"), "--bpp", "0.01", *quick,
                 "--steps", "20"]) == 0
    assert "note: 0.01 bpp is out of reach" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one target at a time
        main(["encode", str(src), str(tmp_path / "c.prc"), "--bpp", "1", "--psnr", "30"])


def test_pillow_save_takes_a_target(face):
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, format="PRC", bpp=1.0, **QUICK)
    assert abs(_bpp(buf.getvalue(), face) - 1.0) <= 0.05
    assert Image.open(io.BytesIO(buf.getvalue())).size == (64, 64)
