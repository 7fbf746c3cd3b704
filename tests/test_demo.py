"""The demo's same-size comparison."""
import io

import numpy as np
import pytest
from PIL import Image

from pranc_codec import demo


@pytest.mark.parametrize("name,fmt,options", demo.OTHERS)
def test_same_size_is_the_best_quality_that_fits(photo, name, fmt, options):
    budget = 900
    data, quality = demo.same_size(photo, fmt, options, budget)
    assert len(data) <= budget and 1 < quality < 95
    larger = io.BytesIO()
    Image.fromarray(photo).save(larger, fmt, quality=quality + 1, **options)
    assert len(larger.getvalue()) > budget


def test_comparison_sheet_has_a_panel_per_image(photo):
    sheet = Image.open(io.BytesIO(demo.comparison([("a", photo), ("b", photo[::-1])])))
    side = 2 * min(demo.CROP, *photo.shape[:2])
    assert sheet.size == (2 * (side + 4), side + 18)
    assert np.asarray(sheet).std() > 0
