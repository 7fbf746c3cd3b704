"""Format v1's container: magic, version, header, payload, CRC-32.

The header is declarative (``fileformat``'s field tables): every field is
described once, below, with its struct code and the range a reader
accepts, and the writer and the reader both walk the same tables.
docs/format.md is the prose version. All integers are little-endian.
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field, fields
from typing import IO

from ..errors import PrcFormatError, PrcTruncatedError
from ..fileformat import (
    MAGIC,
    MAX_BASIS_VALUES,
    MAX_COEFFS,
    MAX_PARAMS,
    MAX_SIDE,
    Reader,
    check_image,
    float_field,
    int_field,
    pack_fields,
    table_bytes,
    validate_fields,
    version_of,
)

FORMAT_VERSION = 1  # the layout of this module; version 2 is pranc_codec.latent.container

# Caps of version 1, beside those every version shares (fileformat).
MAX_INR_WIDTH = 1024
MAX_INR_DEPTH = 16
MAX_GROUPS = 64
MAX_PAYLOAD = 1 << 26
# pixels x parameters: the multiply-adds of rendering (each weight is used
# once per pixel), about 2-4 minutes on 2 cores at the cap. An 8192x8192
# image at the default preset (33k parameters) needs 2.2e12 of the 4.4e12.
MAX_RENDER_MACS = 1 << 42


HEADER_FIELDS = (
    int_field("width", "I", 1, MAX_SIDE),
    int_field("height", "I", 1, MAX_SIDE),
    int_field("channels", "B", 1, 4),
    int_field("inr_width", "H", 1, MAX_INR_WIDTH),
    int_field("inr_depth", "B", 1, MAX_INR_DEPTH),
    float_field("w0", 1e-3, 1e3),
    int_field("seed", "Q"),
    int_field("n_groups", "B", 1, MAX_GROUPS),
)
GROUP_FIELDS = (
    int_field("size", "I", 1, MAX_PARAMS),
    int_field("chunk", "I", 0, MAX_PARAMS),  # m; 0 = direct group
    int_field("rank", "H", 0, 65535),  # r; 0 for a direct group
    float_field("scale", 0.0, 1e6),
    float_field("step", 1e-30, 1e6),
    int_field("laplace", "H", 1, 65535),  # t: theta = t / 65536
    int_field("qmax", "H", 0, 32767),
)
TRAILER_FIELDS = (int_field("payload_length", "I", 0, MAX_PAYLOAD),)


@dataclass(frozen=True)
class GroupHeader:
    size: int
    chunk: int
    rank: int
    scale: float
    step: float
    laplace: int
    qmax: int


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    channels: int
    inr_width: int
    inr_depth: int
    w0: float
    seed: int
    groups: tuple[GroupHeader, ...] = field(default_factory=tuple)

    @property
    def n_groups(self) -> int:
        return len(self.groups)


def _check_tables() -> None:
    """The dataclasses and the field tables must name the same fields."""
    header_names = {f.name for f in fields(Header)} - {"groups"} | {"n_groups"}
    assert header_names == {f.name for f in HEADER_FIELDS}
    assert {f.name for f in fields(GroupHeader)} == {f.name for f in GROUP_FIELDS}


_check_tables()


def validate_header(h: Header) -> None:
    """Checks that hold between fields; every cap the reader enforces."""
    check_image(h.width, h.height, h.channels)
    coeffs = values = 0
    for i, g in enumerate(h.groups):
        where = f"group {i}: "
        if g.chunk == 0:
            if g.rank != 0:
                raise PrcFormatError(f"{where}a direct group (chunk 0) must have rank 0")
            coeffs += g.size
        else:
            if g.chunk > g.size or g.rank == 0:
                raise PrcFormatError(f"{where}chunk {g.chunk} / rank {g.rank} do not fit size {g.size}")
            coeffs += math.ceil(g.size / g.chunk) * g.rank
            values += g.size * g.rank
    params = sum(g.size for g in h.groups)
    if params > MAX_PARAMS:
        raise PrcFormatError(f"groups hold more than {MAX_PARAMS} parameters")
    if coeffs > MAX_COEFFS:
        raise PrcFormatError(f"{coeffs} coefficients exceed the cap of {MAX_COEFFS}")
    if values > MAX_BASIS_VALUES:
        raise PrcFormatError(f"{values} basis values exceed the cap of {MAX_BASIS_VALUES}")
    if h.width * h.height * params > MAX_RENDER_MACS:
        raise PrcFormatError(f"rendering {h.width}x{h.height} pixels through {params} "
                             f"parameters exceeds the cap of {MAX_RENDER_MACS} multiply-adds")


@dataclass(frozen=True)
class _Trailer:
    payload_length: int


def pack(header: Header, payload: bytes) -> bytes:
    """The complete .prc file for header and payload."""
    validate_header(header)
    body = MAGIC + struct.pack("<B", FORMAT_VERSION) + pack_fields(HEADER_FIELDS, header)
    for i, g in enumerate(header.groups):
        body += pack_fields(GROUP_FIELDS, g, f"group {i}: ")
    body += pack_fields(TRAILER_FIELDS, _Trailer(len(payload))) + payload
    return seal(body)


def overhead_bytes(n_groups: int) -> int:
    """Bytes of a file that are not payload: magic, version, header fields, CRC."""
    sizes = [table_bytes(t) for t in (HEADER_FIELDS, GROUP_FIELDS, TRAILER_FIELDS)]
    return len(MAGIC) + 1 + sizes[0] + n_groups * sizes[1] + sizes[2] + 4


def seal(body: bytes) -> bytes:
    """body followed by its CRC-32: the last step of a version 1 file."""
    return body + struct.pack("<I", zlib.crc32(body))


def _read_fields(reader: Reader) -> tuple[dict, list[dict], dict]:
    """The header's raw fields, read after the version byte: top, groups, trailer."""
    top = reader.table(HEADER_FIELDS, "header")
    groups = [reader.table(GROUP_FIELDS, f"header of group {i}") for i in range(top["n_groups"])]
    return top, groups, reader.table(TRAILER_FIELDS, "header")


def _checked(top: dict, groups: list[dict], trailer: dict) -> Header:
    """The header of raw fields whose ranges and caps hold (PrcFormatError otherwise)."""
    validate_fields(HEADER_FIELDS, top)
    for i, values in enumerate(groups):
        validate_fields(GROUP_FIELDS, values, f"group {i}: ")
    validate_fields(TRAILER_FIELDS, trailer)
    header = Header(groups=tuple(GroupHeader(**g) for g in groups),
                    **{k: v for k, v in top.items() if k != "n_groups"})
    validate_header(header)
    return header


def read_header(fp: IO[bytes]) -> Header:
    """The header of a v1 stream positioned after its version byte, its fields and
    caps checked; reads nothing past it (the CRC, at the end, is unpack's)."""
    return _checked(*_read_fields(Reader(fp)))


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Parse and check a version 1 .prc file; raises PrcFormatError saying what is wrong."""
    if version_of(data) != FORMAT_VERSION:
        raise PrcFormatError("not a version 1 .prc file")
    reader = Reader(bytes(data))
    reader.take(len(MAGIC) + 1, "magic bytes")
    fields = _read_fields(reader)
    expected = reader.pos + fields[2]["payload_length"] + 4
    if len(data) < expected:
        raise PrcTruncatedError(f"file is truncated: {len(data)} bytes, the header announces "
                                f"{expected}")
    if len(data) > expected:
        raise PrcFormatError(f"{len(data) - expected} unexpected bytes after the end of the file")
    payload = reader.take(fields[2]["payload_length"], "payload")
    (crc,) = struct.unpack("<I", reader.take(4, "CRC"))
    if crc != zlib.crc32(data[:-4]):
        raise PrcFormatError("CRC-32 mismatch: the file is corrupted")
    # Ranges are checked after the CRC so that a damaged file says so.
    return _checked(*fields), payload
