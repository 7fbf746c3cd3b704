import io

import numpy as np
import pytest
from PIL import Image

import pranc_codec
from pranc_codec import PrcFormatError


@pytest.fixture(params=["v1", "v2"])
def saved(request, photo, tiny_settings, latent_tiny, tmp_path):
    path = tmp_path / "photo.prc"
    Image.fromarray(photo).save(path, **(tiny_settings if request.param == "v1" else latent_tiny))
    return path


def test_save_by_extension_and_open(saved, photo):
    data = saved.read_bytes()
    assert data[:4] == b"PRNC" and data[4] in (1, 2)
    with Image.open(saved) as img:
        assert (img.format, img.mode, img.size) == ("PRC", "RGB", (48, 40))
        pixels = np.asarray(img)
    assert np.array_equal(pixels, pranc_codec.decode(data))  # the codec's own decode
    assert np.abs(pixels.astype(int) - photo.astype(int)).mean() < 40


def test_save_to_a_stream_with_format_and_preset(photo, tiny_settings):
    buf = io.BytesIO()
    Image.fromarray(photo).convert("L").save(buf, format="PRC", preset="fast", **tiny_settings)
    img = Image.open(io.BytesIO(buf.getvalue()))
    assert img.mode == "L" and img.size == (48, 40)
    assert np.asarray(img).shape == (40, 48)


def test_rgba_kept_and_palette_converted_with_a_warning(photo, tiny_settings):
    rgba = Image.fromarray(np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    buf = io.BytesIO()
    rgba.save(buf, format="PRC", **tiny_settings)
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "RGBA"
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match="palette image converted to RGB"):
        Image.fromarray(photo).convert("P").save(buf, format="PRC", **tiny_settings)
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "RGB"


def test_damaged_file_says_so(saved):
    data = bytearray(saved.read_bytes())
    data[20] ^= 0xFF
    with pytest.raises(PrcFormatError, match="CRC"):
        Image.open(io.BytesIO(bytes(data)))


def test_unknown_setting_is_refused(photo):
    with pytest.raises(TypeError, match="unknown encoder setting"):
        Image.fromarray(photo).save(io.BytesIO(), format="PRC", qualty=5)


def test_other_formats_unaffected(photo):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    assert Image.open(io.BytesIO(buf.getvalue())).format == "PNG"
