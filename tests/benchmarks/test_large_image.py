"""The large-image benchmark's photographs: a mosaic of real photos at their own resolution."""
import numpy as np
from PIL import Image

from benchmarks import large_image


def test_mosaic_tiles_the_photos_unscaled_and_mirrors_every_other_pass(tmp_path):
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (512, 768, 3), dtype=np.uint8),
              rng.integers(0, 256, (768, 512, 3), dtype=np.uint8)]  # a portrait one
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(tmp_path / f"p{i}.png")
    out = large_image.mosaic(tmp_path, 2000, 700)
    assert out.shape == (700, 2000, 3)
    assert np.array_equal(out[:512, :768], photos[0])
    assert np.array_equal(out[:512, 768:1536], np.rot90(photos[1]))  # turned a quarter
    assert np.array_equal(out[:512, 1536:], photos[0][:, ::-1][:, :464])  # the second pass
    assert np.array_equal(out[512:, :768], np.rot90(photos[1])[:188, ::-1])
