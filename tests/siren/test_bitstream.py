import struct

import pytest

from pranc_codec import fileformat
from pranc_codec.errors import PrcFormatError
from pranc_codec.siren import bitstream
from pranc_codec.siren.bitstream import GroupHeader, Header


def header(**changes) -> Header:
    fields = dict(
        width=33, height=17, channels=3, inr_width=24, inr_depth=2, w0=30.0,
        seed=2**40 + 123,
        groups=(
            GroupHeader(size=72, chunk=0, rank=0, scale=1.0, step=0.015625, laplace=40000, qmax=9),
            GroupHeader(size=600, chunk=32, rank=6, scale=0.125, step=0.5, laplace=12345, qmax=3),
            GroupHeader(size=75, chunk=0, rank=0, scale=1.0, step=0.25, laplace=1, qmax=0),
        ),
    )
    fields.update(changes)
    return Header(**fields)


def test_round_trip_every_field():
    h = header()
    data = bitstream.pack(h, b"\x01\x02\x03\x04")
    back, payload = bitstream.unpack(data)
    assert back == h
    assert payload == b"\x01\x02\x03\x04"


def test_writer_refuses_values_float32_cannot_hold():
    g = GroupHeader(size=72, chunk=0, rank=0, scale=1.0, step=0.01, laplace=1, qmax=1)
    with pytest.raises(PrcFormatError, match="float32"):
        bitstream.pack(header(groups=(g,) + header().groups[1:]), b"")


def test_layout_is_as_documented():
    data = bitstream.pack(header(), b"")
    assert data[:4] == b"PRNC" and data[4] == bitstream.FORMAT_VERSION
    # 22 header bytes, 23 per group, 4 payload length, payload, 4 CRC
    assert len(data) == 5 + 22 + 3 * 23 + 4 + 4


def test_wrong_magic():
    data = bitstream.pack(header(), b"")
    with pytest.raises(PrcFormatError, match="not a .prc file"):
        bitstream.unpack(b"PNG!" + data[4:])


def test_unknown_version():
    data = bytearray(bitstream.pack(header(), b""))
    data[4] = 99
    with pytest.raises(PrcFormatError, match="unsupported .prc format version 99"):
        bitstream.unpack(bitstream.seal(bytes(data[:-4])))


def test_every_truncation():
    data = bitstream.pack(header(), b"\x00" * 8)
    for n in range(len(data)):
        with pytest.raises(PrcFormatError):
            bitstream.unpack(data[:n])


def test_trailing_garbage():
    data = bitstream.pack(header(), b"\x00" * 4)
    with pytest.raises(PrcFormatError, match="unexpected bytes"):
        bitstream.unpack(data + b"junk")


def test_crc_mismatch_anywhere():
    data = bitstream.pack(header(), b"\x10\x20\x30\x40")
    for pos in (6, 30, len(data) - 6, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 0x04
        with pytest.raises(PrcFormatError):
            bitstream.unpack(bytes(bad))
    bad = bytearray(data)
    bad[-6] ^= 0x01  # in the payload: only the CRC can tell
    with pytest.raises(PrcFormatError, match="CRC-32 mismatch"):
        bitstream.unpack(bytes(bad))


def _forge(h: Header) -> bytes:
    """A file with a valid CRC whose header the writer would refuse."""
    body = fileformat.MAGIC + bytes([bitstream.FORMAT_VERSION])
    body += fileformat.pack_unchecked(bitstream.HEADER_FIELDS, h)
    for g in h.groups:
        body += fileformat.pack_unchecked(bitstream.GROUP_FIELDS, g)
    return bitstream.seal(body + struct.pack("<I", 0))


@pytest.mark.parametrize("changes,message", [
    (dict(width=0), "width"),
    (dict(height=100_000), "height"),
    (dict(width=16000, height=16000), "pixels"),
    (dict(channels=2), "channels"),
    (dict(inr_width=5000), "inr_width"),
    (dict(inr_depth=0), "inr_depth"),
    (dict(w0=float("nan")), "w0"),
    (dict(groups=()), "n_groups"),
    (dict(groups=(GroupHeader(4_000_000, 1, 60000, 1.0, 1.0, 1, 1),)), "coefficients"),
    (dict(groups=(GroupHeader(100, 200, 3, 1.0, 1.0, 1, 1),)), "do not fit"),
    (dict(groups=(GroupHeader(100, 0, 3, 1.0, 1.0, 1, 1),)), "direct"),
    (dict(groups=(GroupHeader(100, 10, 3, 1.0, 0.0, 1, 1),)), "step"),
    (dict(groups=(GroupHeader(100, 10, 3, 1.0, 1.0, 0, 1),)), "laplace"),
    (dict(groups=(GroupHeader(1 << 21, 1 << 21, 200, 1.0, 1.0, 1, 1),)), "basis values"),
    # 8192 x 8192 pixels through 70,000 parameters: 4.7e12 multiply-adds
    (dict(width=8192, height=8192, groups=(GroupHeader(70_000, 0, 0, 1.0, 1.0, 1, 1),)),
     "multiply-adds"),
])
def test_absurd_headers_are_refused(changes, message):
    h = header(**changes)
    with pytest.raises(PrcFormatError, match=message):
        bitstream.unpack(_forge(h))
    with pytest.raises(PrcFormatError):
        bitstream.pack(h, b"")


def test_absurd_payload_length_is_truncation_not_allocation():
    data = bytearray(bitstream.pack(header(), b""))
    data[-8:-4] = struct.pack("<I", 0xFFFFFFFF)
    with pytest.raises(PrcFormatError, match="truncated"):
        bitstream.unpack(bytes(data))
