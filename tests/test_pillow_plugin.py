import io

import numpy as np
import pytest
from PIL import Image, ImageFile

import pranc_codec
from pranc_codec import PrcFormatError, codec
from pranc_codec.latent import container
from pranc_codec.siren import bitstream
from tests.conftest import DATA


@pytest.fixture(params=["v1", "latent"])
def saved(request, photo, tiny_settings, latent_tiny, tmp_path):
    path = tmp_path / f"{request.param}.prc"
    Image.fromarray(photo).save(path, **(tiny_settings if request.param == "v1" else latent_tiny))
    return path


def test_save_by_extension_and_open(saved, photo):
    data = saved.read_bytes()
    assert data[:4] == b"PRNC" and data[4] == (1 if "v1" in saved.name else 3)
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
    data[20] ^= 0xFF  # the header: v2's HEAD section has its own CRC, v1's is checked at load
    with pytest.raises(PrcFormatError, match="CRC|outside"):
        with Image.open(io.BytesIO(bytes(data))) as img:
            img.load()


def test_unknown_setting_is_refused(photo):
    with pytest.raises(TypeError, match="unknown encoder setting"):
        Image.fromarray(photo).save(io.BytesIO(), format="PRC", qualty=5)


def test_other_formats_unaffected(photo):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    assert Image.open(io.BytesIO(buf.getvalue())).format == "PNG"


# Pillow's conventions, tested as Pillow tests its own plugins (Tests/test_file_png.py):
# against the committed reference files of both versions, and beside PNG.

REFERENCES = ["v1_16x12", "v2_24x20", "v2_24x20_metadata", "v3_24x20"]


def reference(name: str) -> tuple[bytes, np.ndarray]:
    png = "v2_24x20" if name[:2] in ("v2", "v3") else name  # v3: the v2 file upgraded
    return (DATA / f"{name}.prc").read_bytes(), np.asarray(Image.open(DATA / f"{png}.png"))


def header_bytes(data: bytes) -> int:
    """The bytes that say a file's mode and size: v1's header, v2's HEAD section."""
    if data[4] == 1:
        return bitstream.overhead_bytes(len(bitstream.unpack(data)[0].groups)) - 4
    return container.layout(data)[0][1]  # the end of HEAD


class CountingIO(io.BytesIO):
    """A stream that counts the bytes read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        chunk = super().read(n)
        self.bytes_read += len(chunk)
        return chunk


@pytest.mark.parametrize("name", REFERENCES)
def test_open_reads_the_header_and_load_decodes(name):
    data, expected = reference(name)
    fp = CountingIO(data)
    with Image.open(fp) as img:
        assert img.size == expected.shape[1::-1] and img.mode == "RGB"
        header = header_bytes(data)
        if name[:2] in ("v2", "v3"):  # the metadata, a header and CRC per other section
            header += len(b"".join(codec.describe(io.BytesIO(data))[3:])) \
                + 13 * (len(container.layout(data)) - 1)
        # and Pillow's 16-byte prefix, and the magic bytes read again
        assert fp.bytes_read <= header + 16 + 5 < len(data)
        assert img.tile  # nothing decoded yet
        assert np.array_equal(np.asarray(img), expected)


@pytest.mark.parametrize("chunk", [1, 100, 1024])
@pytest.mark.parametrize("name", REFERENCES)
def test_parser_fed_in_chunks_gives_the_image(name, chunk):
    data, expected = reference(name)
    parser = ImageFile.Parser()
    sizes = []
    for start in range(0, len(data), chunk):
        parser.feed(data[start:start + chunk])
        sizes.append(parser.image.size if parser.image else None)
    img = parser.close()
    assert np.array_equal(np.asarray(img), expected)
    # the size is known as soon as the header is in (what Django's
    # get_image_dimensions asks of the parser), long before the file is whole
    assert sizes[(header_bytes(data) - 1) // chunk] == img.size
    if name.endswith("metadata"):
        assert img.info["icc_profile"] == b"reference ICC profile bytes"


def test_django_reads_the_dimensions_of_an_upload(tmp_path):
    images = pytest.importorskip("django.core.files.images")
    for name in REFERENCES:
        data, expected = reference(name)
        assert images.get_image_dimensions(io.BytesIO(data)) == expected.shape[1::-1]


def test_errors_are_oserrors_as_for_png(photo):
    assert issubclass(PrcFormatError, OSError) and issubclass(pranc_codec.PrcError, OSError)
    png = io.BytesIO()
    Image.fromarray(photo).save(png, format="PNG")
    for data in (png.getvalue(), reference("v2_24x20")[0]):
        with pytest.raises(OSError):  # cut short: the header opens, the pixels fail
            with Image.open(io.BytesIO(data[:-30])) as img:
                img.load()
        with pytest.raises(OSError):  # cut inside the header: nothing opens
            Image.open(io.BytesIO(data[:12]))


@pytest.mark.parametrize("name", ["v1_16x12", "v2_24x20"])
def test_damage_past_the_header_is_found_by_load_and_verify(name):
    data, _ = reference(name)
    bad = bytearray(data)
    bad[-20] ^= 0xFF  # a coefficient or the finest grid, past everything open reads
    with Image.open(io.BytesIO(bytes(bad))) as img:
        with pytest.raises(PrcFormatError, match="CRC"):
            img.verify()
    with Image.open(io.BytesIO(bytes(bad))) as img:
        with pytest.raises(PrcFormatError, match="CRC"):
            img.load()
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
        with pytest.raises(RuntimeError, match="directly after open"):
            img.verify()


def truncated_previews(data: bytes, cuts, shape: tuple, monkeypatch) -> list[np.ndarray]:
    """What Pillow with LOAD_TRUNCATED_IMAGES gives of the file cut at each of ``cuts``."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    previews = []
    for cut in cuts:
        with Image.open(io.BytesIO(data[:cut])) as img:
            previews.append(np.asarray(img))
        assert previews[-1].shape == shape
    return previews


def test_load_truncated_images_gives_a_preview_from_the_whole_grids(monkeypatch):
    data, expected = reference("v2_24x20")
    full = pranc_codec.decode(data)
    ends = dict((kind, end) for kind, end in container.layout(data) if kind != b"LATG")
    grid_ends = [end for kind, end in container.layout(data) if kind == b"LATG"]
    cuts = [ends[b"NETS"]] + grid_ends[:-1] + [grid_ends[-1], len(data) - 1]
    previews = truncated_previews(data, cuts, expected.shape, monkeypatch)
    # every grid whole, only DONE missing: the full image; fewer grids, a preview
    # that the next grid makes no worse
    assert np.array_equal(previews[-1], full) and np.array_equal(previews[-2], full)
    errors = [np.abs(p.astype(int) - full.astype(int)).mean() for p in previews]
    assert errors[0] > 0 and errors[-1] == 0
    # v1 is range-coded whole: a cut file stays blank, as Pillow's do, and says nothing
    v1, _ = reference("v1_16x12")
    with Image.open(io.BytesIO(v1[:-10])) as img:
        assert not np.asarray(img).any()
    # a cut before the networks are whole leaves nothing to decode: blank too
    with Image.open(io.BytesIO(data[:ends[b"NETS"] - 1])) as img:
        assert not np.asarray(img).any()


def test_load_truncated_images_gives_a_preview_from_v3s_stream(monkeypatch):
    data, expected = reference("v3_24x20")
    full = pranc_codec.decode(data)
    ends = dict(container.layout(data))
    previews = truncated_previews(data, range(ends[b"NETS"], len(data)), expected.shape,
                                  monkeypatch)
    errors = [np.abs(p.astype(int) - full.astype(int)).mean() for p in previews]
    # the networks alone: the mean; the whole stream (its CRC or DONE missing): the image
    assert errors[0] > 0 and errors[ends[b"LATS"] - 4 - ends[b"NETS"]] == 0 and errors[-1] == 0
    assert len(set(errors)) > 2  # grids come in as the stream does


def test_max_image_pixels_keeps_working(monkeypatch):
    data, _ = reference("v2_24x20")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 24 * 20 - 1)
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(data)).close()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 24 * 20 // 3)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))


def test_exif_icc_and_thumbnail():
    data, expected = reference("v2_24x20")
    exif = Image.Exif()
    exif[0x0131] = "pranc-codec test"  # Software
    exif[0x0112] = 1  # Orientation
    tagged = container.with_metadata(data, b"an ICC profile", exif.tobytes())
    with Image.open(io.BytesIO(tagged)) as img:
        assert img.info["icc_profile"] == b"an ICC profile"
        assert img.getexif()[0x0131] == "pranc-codec test"
        img.thumbnail((12, 12))
        assert img.size == (12, 10) and img.mode == "RGB"
    with Image.open(io.BytesIO(tagged)) as img:
        assert np.array_equal(np.asarray(img), expected)
