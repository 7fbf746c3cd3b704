"""Images of every kind reach the codec upright and in a mode it codes."""
import numpy as np
import pytest
from PIL import Image

from pranc_codec import codec
from pranc_codec.cli import main
from pranc_codec.images import load_image

ORIENTATION = 0x0112


@pytest.mark.parametrize("orientation,turn", [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, photo, orientation, turn):
    # a phone stores the sensor's pixels and says in EXIF how to turn them
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / "phone.png"
    Image.fromarray(photo).save(path, exif=exif)
    image = load_image(path).array
    assert np.array_equal(image, np.rot90(photo, turn))


def test_phone_photo_decodes_upright(tmp_path, photo, capsys):
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path, prc, out = tmp_path / "phone.jpg", tmp_path / "p.prc", tmp_path / "p.png"
    Image.fromarray(photo).save(path, exif=exif, quality=95)
    assert main(["encode", str(path), str(prc), "--preset", "fast", "--iterations", "10",
                 "--quiet"]) == 0
    assert main(["decode", str(prc), str(out), "--quiet"]) == 0
    assert Image.open(out).size == (40, 48)  # (width, height): turned a quarter


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 1, 3), (1, 3, 1), (2, 2, 4)])
def test_tiny_images_round_trip(shape, tiny_settings):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    decoded = codec.decode(codec.encode(image, **tiny_settings))
    assert decoded.shape == shape
    # a handful of pixels is learnt almost exactly, whatever their values
    assert np.abs(decoded.astype(int) - image.astype(int)).max() <= 2
