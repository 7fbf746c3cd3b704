"""Format v1 end to end: a SIREN fitted, packed and decoded."""
import numpy as np
import pytest

from pranc_codec import codec
from pranc_codec.errors import PrcFormatError
from pranc_codec.metrics import psnr
from pranc_codec.siren import bitstream
from tests.conftest import DATA


def test_encode_decode_learns_the_image(photo, tiny_settings):
    data = codec.encode(photo, **tiny_settings)
    decoded = codec.decode(data)
    assert decoded.shape == photo.shape and decoded.dtype == np.uint8
    flat = np.broadcast_to(photo.reshape(-1, 3).mean(0).round(), photo.shape).astype(np.uint8)
    baseline = psnr(photo, flat)  # the best constant image
    assert psnr(photo, decoded) > baseline + 8.0
    # a few hundred bytes, not the 5 KB of raw pixels
    assert len(data) < photo.size / 4


def test_deterministic(photo, tiny_settings):
    assert codec.encode(photo, **tiny_settings) == codec.encode(photo, **tiny_settings)


def test_seed_changes_the_file(photo, tiny_settings):
    a = codec.encode(photo, **tiny_settings)
    b = codec.encode(photo, **{**tiny_settings, "seed": 2**40 + 1})
    assert a != b
    assert bitstream.unpack(b)[0].seed == 2**40 + 1


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_alpha(photo, tiny_settings, channels):
    image = photo[:, :, :1] if channels == 1 else np.concatenate(
        [photo, np.full(photo.shape[:2] + (1,), 200, np.uint8)], axis=2)
    decoded = codec.decode(codec.encode(image, **tiny_settings))
    assert decoded.shape == image.shape
    assert psnr(image, decoded) > 15


def test_tiny_images(tiny_settings):
    for shape in [(1, 1, 3), (1, 5, 3), (3, 1, 1)]:
        image = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape) * 40
        decoded = codec.decode(codec.encode(image, **{**tiny_settings, "steps": 5}))
        assert decoded.shape == shape


def test_dense_and_global_layouts(photo, tiny_settings):
    # chunk 0: every basis group dense; no direct layers: all groups are basis groups
    data = codec.encode(photo, **{**tiny_settings, "chunk": 0, "direct_ends": False})
    header, _ = bitstream.unpack(data)
    assert all(g.chunk == g.size and g.rank > 0 for g in header.groups)
    assert codec.decode(data).shape == photo.shape


def test_inconsistent_architecture_is_a_format_error(photo, tiny_settings):
    header, payload = bitstream.unpack(codec.encode(photo, **tiny_settings))
    from dataclasses import replace

    wrong = replace(header, inr_width=header.inr_width + 1)
    with pytest.raises(PrcFormatError, match="parameters"):
        codec.decode(bitstream.pack(wrong, payload))


def test_version_1_files_still_decode():
    """The format contract: a file written by version 1 decodes to the same image.

    A change to the header or the basis generation that breaks this must bump
    the format version and keep a reader for version 1.
    """

    from PIL import Image

    decoded = codec.decode((DATA / "v1_16x12.prc").read_bytes())
    expected = np.asarray(Image.open(DATA / "v1_16x12.png"))
    # a last-bit difference in float maths may move a pixel by one level, no more
    diff = np.abs(decoded.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
