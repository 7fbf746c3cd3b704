"""A photo's colour profile and EXIF block survive encode and decode."""
import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from pranc_codec import codec
from pranc_codec.cli import main
from pranc_codec.errors import PrcFormatError
from pranc_codec.latent import container
from tests.conftest import DATA

QUICK = ["--preset", "fast", "--iterations", "10", "--quiet"]
ORIENTATION, MAKE = 0x0112, 0x010F


@pytest.fixture
def icc() -> bytes:
    """A real profile that is not sRGB (a Lab profile from littleCMS)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def test_icc_profile_survives_byte_for_byte(tmp_path, photo, icc):
    src, prc, out = tmp_path / "p3.png", tmp_path / "p.prc", tmp_path / "p.png"
    Image.fromarray(photo).save(src, icc_profile=icc)
    assert main(["encode", str(src), str(prc), *QUICK]) == 0
    with Image.open(prc) as img:  # the Pillow plugin exposes it as Pillow's formats do
        assert img.info["icc_profile"] == icc
    assert main(["decode", str(prc), str(out), "--quiet"]) == 0
    with Image.open(out) as img:
        assert img.info["icc_profile"] == icc


def test_exif_is_kept_upright_and_strip_drops_both(tmp_path, photo, icc):
    exif = Image.Exif()
    exif[ORIENTATION], exif[MAKE] = 6, "PhoneMaker"
    src, prc, out = tmp_path / "phone.png", tmp_path / "p.prc", tmp_path / "p.png"
    Image.fromarray(photo).save(src, exif=exif, icc_profile=icc)
    assert main(["encode", str(src), str(prc), *QUICK]) == 0
    assert main(["decode", str(prc), str(out), "--quiet"]) == 0
    with Image.open(out) as img:
        assert img.size == (40, 48)  # turned a quarter, as the orientation said
        assert img.getexif()[MAKE] == "PhoneMaker" and img.getexif()[ORIENTATION] == 1
    assert main(["encode", str(src), str(prc), *QUICK, "--strip"]) == 0
    f = container.unpack(prc.read_bytes())
    assert f.icc == b"" and f.exif == b""


def test_metadata_leaves_the_pixels_alone(photo, icc, latent_tiny):
    data = codec.encode(photo, **{**latent_tiny, "iterations": 4})
    tagged = container.with_metadata(data, icc, b"Exif\0\0MM\0*\0\0\0\x08\0\0")
    assert np.array_equal(codec.decode(tagged), codec.decode(data))
    assert codec.describe(io.BytesIO(tagged)).icc == icc
    assert codec.describe(io.BytesIO(data))[3:] == (b"", b"")


def test_metadata_size_cap(photo, latent_tiny):
    data = codec.encode(photo, **{**latent_tiny, "iterations": 4})
    with pytest.raises(ValueError, match="cap"):
        container.with_metadata(data, b"x" * (container.MAX_METADATA + 1))
    # a file announcing an oversized profile is refused from the section's header
    record = b"ICCP" + struct.pack("<BI", 0, container.MAX_METADATA + 1)
    done = data.rindex(b"DONE")
    forged = data[:done] + record + b"\0" * 8 + data[done:]
    with pytest.raises(PrcFormatError, match="cap"):
        container.unpack(forged)


def test_unknown_optional_section_is_skipped(photo, latent_tiny):
    data = codec.encode(photo, **{**latent_tiny, "iterations": 4})
    done = data.rindex(b"DONE")
    extra = container.section(b"XMPP", b"<x/>", critical=False)
    assert np.array_equal(codec.decode(data[:done] + extra + data[done:]), codec.decode(data))


def test_reference_file_with_metadata_sections_decodes():
    """A v2 file with ICCP and EXIF sections, as written when they were added: the
    same pixels as the reference file without them, and the metadata as written."""
    tagged = (DATA / "v2_24x20_metadata.prc").read_bytes()
    reference = np.asarray(Image.open(DATA / "v2_24x20.png"))
    assert np.array_equal(codec.decode(tagged).reshape(reference.shape), reference)
    assert codec.describe(io.BytesIO(tagged))[3:] == (b"reference ICC profile bytes",
                                                      b"Exif\0\0MM\0*\0\0\0\x08\0\0")
