"""The decoder against damaged and hostile files.

Every input must end in an image of the shape its header announces or in
PrcFormatError: no other exception, no hang. ``make test`` runs a few
thousand cases; ``make fuzz`` (FUZZ_EXAMPLES=...) runs the long campaign.
"""
import os
import struct
import time
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pranc_codec import codec, fileformat
from pranc_codec.errors import PrcFormatError
from pranc_codec.latent import container
from pranc_codec.siren import bitstream
from tests.conftest import DATA

VALID = (DATA / "v1_16x12.prc").read_bytes()
VALID_V2 = (DATA / "v2_24x20.prc").read_bytes()
VALID_V3 = (DATA / "v3_24x20.prc").read_bytes()
LATENT = {2: VALID_V2, 3: VALID_V3}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
# A decode of anything within the caps of a small file takes milliseconds; a
# case this slow means a header made the decoder do far more than it should.
SLOW_SECONDS = 20.0

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decodes_or_refuses(data: bytes) -> str:
    """Decode, and decode as a file that may be cut short (what Pillow does with
    LOAD_TRUNCATED_IMAGES); 'image' or 'refused' by the first. Each must end in an
    image of the shape the header announces or in PrcFormatError (the second may
    also find nothing left to decode); anything else fails the test."""
    outcomes = []
    for decode in (codec.decode, codec.decode_partial):
        start = time.perf_counter()
        try:
            image = decode(data)
        except PrcFormatError:
            outcomes.append("refused")
            continue
        finally:
            assert time.perf_counter() - start < SLOW_SECONDS, "decode took too long"
        if image is None:
            assert decode is codec.decode_partial
            outcomes.append("nothing left")
            continue
        header = (container.unpack(data, partial=True).head if data[4] in LATENT
                  else bitstream.unpack(data)[0])
        assert image.dtype == np.uint8
        assert image.shape == (header.height, header.width, header.channels)
        outcomes.append("image")
    return outcomes[0]


EDITS = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "set"]),
                           st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=6)


def apply(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, where, value in edits:
        i = where % (len(out) + 1)
        if kind == "insert":
            out.insert(i, value)
        elif out and i < len(out):
            if kind == "flip":
                out[i] ^= 1 << (value % 8)
            elif kind == "delete":
                del out[i]
            else:
                out[i] = value
    return bytes(out)


@FUZZ
@given(EDITS, st.booleans())
def test_mutated_file(edits, fix_crc):
    """Bit flips, byte insertions, deletions and overwrites, with the CRC
    left broken or recomputed (so the header checks, not the CRC, must stop them)."""
    data = apply(VALID, edits)
    if fix_crc and len(data) >= 4:
        data = bitstream.seal(data[:-4])
    event(decodes_or_refuses(data))  # the split shows in --hypothesis-show-statistics


def _field_values(table, draw):
    """Raw values for a field table: mostly in range, sometimes anywhere the type allows."""
    values = {}
    for f in table:
        if f.is_float:
            values[f.name] = draw(st.one_of(
                st.floats(float(np.float32(f.lo)), float(np.float32(f.hi)), width=32),
                st.floats(width=32, allow_nan=True, allow_infinity=True)))
        else:
            bits = fileformat.code_bits(f.code)
            signed = f.code.islower()  # struct's signed integer codes
            low, top = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            values[f.name] = draw(st.one_of(st.integers(int(f.lo), int(min(f.hi, 64))),
                                            st.integers(int(f.lo), int(f.hi)),
                                            st.integers(low, top)))
    return values


@st.composite
def hostile_files(draw):
    """A well-formed container (valid CRC) around arbitrary header values."""
    top = _field_values(bitstream.HEADER_FIELDS, draw)
    top["n_groups"] = draw(st.integers(0, 6))
    groups = [_field_values(bitstream.GROUP_FIELDS, draw) for _ in range(top["n_groups"])]
    payload = draw(st.binary(max_size=64))
    length = draw(st.one_of(st.just(len(payload)), st.integers(0, 2**32 - 1)))
    body = fileformat.MAGIC + bytes([bitstream.FORMAT_VERSION])
    body += fileformat.pack_unchecked(bitstream.HEADER_FIELDS, SimpleNamespace(**top))
    for g in groups:
        body += fileformat.pack_unchecked(bitstream.GROUP_FIELDS, SimpleNamespace(**g))
    return bitstream.seal(body + struct.pack("<I", length) + payload)


@FUZZ
@given(hostile_files())
def test_hostile_header_with_valid_crc(data):
    event(decodes_or_refuses(data))


def f32(*values: float) -> list[float]:
    """The float32 nearest each value (here each rounds into the field's range)."""
    return [float(np.float32(v)) for v in values]


@st.composite
def consistent_files(draw):
    """Headers that pass every check: a SIREN whose groups add up, and a random payload."""
    inr_width, depth = draw(st.integers(1, 12)), draw(st.integers(1, 3))
    channels = draw(st.sampled_from(fileformat.CHANNELS))
    from pranc_codec.siren.inr import Siren

    groups = []
    for size in Siren(inr_width, depth, channels).layer_sizes():
        direct = draw(st.booleans())
        chunk = 0 if direct else draw(st.integers(1, size))
        groups.append(bitstream.GroupHeader(
            size=size, chunk=chunk, rank=0 if direct else draw(st.integers(1, 4)),
            scale=draw(st.sampled_from(f32(0.0, 0.5, 1e6))),
            step=draw(st.sampled_from(f32(1e-30, 0.25, 1e6))),
            laplace=draw(st.integers(1, 65535)), qmax=draw(st.integers(0, 32767))))
    header = bitstream.Header(
        width=draw(st.integers(1, 40)), height=draw(st.integers(1, 40)), channels=channels,
        inr_width=inr_width, inr_depth=depth, w0=draw(st.sampled_from(f32(1e-3, 30.0, 1e3))),
        seed=draw(st.integers(0, 2**64 - 1)), groups=tuple(groups))
    payload = draw(st.binary(max_size=256))
    return bitstream.pack(header, payload[:len(payload) // 4 * 4])


@FUZZ
@given(consistent_files())
def test_valid_header_random_payload(data):
    """Past every header check, the range decoder and the network see garbage."""
    event(decodes_or_refuses(data))


@pytest.mark.parametrize("valid", [VALID, VALID_V2, VALID_V3], ids=["v1", "v2", "v3"])
def test_every_truncation_of_a_real_file(valid):
    outcomes = {decodes_or_refuses(valid[:n]) for n in range(len(valid))}
    assert outcomes == {"refused"}
    assert decodes_or_refuses(valid) == "image"


@pytest.mark.parametrize("n", [0, 1, 5, 1000])
def test_garbage(n):
    assert decodes_or_refuses(bytes(n)) == "refused"
    assert decodes_or_refuses(np.random.default_rng(n).bytes(n)) == "refused"


# Formats v2 and v3: the same three strategies over their sections.

def _sections_of(data: bytes) -> list[tuple[bytes, int, bytes]]:
    """(type, flags, body) of every section of a well-formed v2 or v3 file."""
    out, pos = [], 5
    while pos < len(data):
        kind, (flags, length) = data[pos:pos + 4], struct.unpack("<BI", data[pos + 4:pos + 9])
        out.append((kind, flags, data[pos + 9:pos + 9 + length]))
        pos += 13 + length
    return out


def _latent_file(version: int, sections) -> bytes:
    return LATENT[version][:5] + b"".join(container.section(k, b, bool(f & container.CRITICAL))
                                          for k, f, b in sections)


@FUZZ
@pytest.mark.parametrize("version", [2, 3])
@given(edits=EDITS, fix_crc=st.booleans(), which=st.integers(0, 20))
def test_latent_mutated_file(version, edits, fix_crc, which):
    """Edits of the raw file, or of one section's body with its CRC recomputed
    (so the section and header checks, not the CRC, must stop them)."""
    if fix_crc:
        sections = _sections_of(LATENT[version])
        i = which % len(sections)
        kind, flags, body = sections[i]
        sections[i] = (kind, flags, apply(body, edits))
        data = _latent_file(version, sections)
    else:
        data = apply(LATENT[version], edits)
    event(decodes_or_refuses(data))


@st.composite
def hostile_latent_files(draw, version: int):
    """Valid CRCs around arbitrary HEAD and group values, sections in any order."""
    head_fields, group_fields = container.FIELDS[version]
    head = _field_values(head_fields, draw)
    groups = [_field_values(group_fields, draw) for _ in range(draw(st.integers(0, 4)))]
    nets = bytes([len(groups)]) + b"".join(
        fileformat.pack_unchecked(group_fields, SimpleNamespace(**g)) for g in groups)
    sections = [(b"HEAD", 1, fileformat.pack_unchecked(head_fields, SimpleNamespace(**head))),
                (b"NETS", 1, nets + draw(st.binary(max_size=64)))]
    for _ in range(draw(st.integers(0, 8 if version == 2 else 2))):
        if version == 2:
            sections.append((b"LATG", 1, bytes([draw(st.integers(0, 12))])
                             + draw(st.binary(max_size=32))))
        else:
            sections.append((b"LATS", 1, draw(st.binary(max_size=64))))
    if draw(st.booleans()):
        sections = draw(st.permutations(sections))
    return _latent_file(version, sections + [(b"DONE", 1, b"")])


@FUZZ
@pytest.mark.parametrize("version", [2, 3])
@given(data=st.data())
def test_latent_hostile_header_with_valid_crc(version, data):
    event(decodes_or_refuses(data.draw(hostile_latent_files(version))))


@st.composite
def consistent_latent_files(draw, version: int):
    """Headers and groups that pass every check, random coefficient and latent payloads."""
    from pranc_codec.latent.architecture import Architecture

    head = container.Head(
        width=draw(st.integers(1, 40)), height=draw(st.integers(1, 40)),
        channels=draw(st.sampled_from(fileformat.CHANNELS)), seed=draw(st.integers(0, 2**64 - 1)),
        l0=draw(st.integers(0, 2)), levels=draw(st.integers(1, 4)),
        syn_width=draw(st.integers(1, 8)), syn_layers=draw(st.integers(0, 2)),
        syn_res=draw(st.integers(0, 1)), arm_context=draw(st.integers(1, 24)),
        arm_width=draw(st.integers(1, 8)), arm_layers=draw(st.integers(0, 2)))
    groups = []
    for size in Architecture.of(head).layer_sizes():
        direct = draw(st.booleans())
        chunk = 0 if direct else draw(st.integers(1, size))
        groups.append(container.NetGroup(
            size=size, chunk=chunk, rank=0 if direct else draw(st.integers(1, 4)),
            step_exp=draw(st.integers(-16, 4)), laplace=draw(st.integers(1, 65535)),
            qmax=draw(st.integers(0, 32767))))
    words = st.binary(max_size=64).map(lambda b: b[:len(b) // 4 * 4])
    streams = head.levels if version == 2 else 1
    return container.pack(container.LatentFile(
        head, tuple(groups), draw(words), tuple(draw(words) for _ in range(streams)),
        version=version))


@FUZZ
@pytest.mark.parametrize("version", [2, 3])
@given(data=st.data())
def test_latent_valid_header_random_payload(version, data):
    """Past every header check, the coefficient decoder, the entropy model and
    the synthesis see garbage."""
    event(decodes_or_refuses(data.draw(consistent_latent_files(version))))
