"""The .prc container: magic, version, header, payload, CRC-32.

Every header field is described once, in the tables below, with its struct
code and the range a reader accepts; the writer and the reader both walk the
same tables, so they cannot drift apart. docs/format.md is the prose version.
All integers are little-endian.
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field, fields

from .errors import PrcFormatError

MAGIC = b"PRNC"
FORMAT_VERSION = 1  # the layout of this module; version 2 is pranc_codec.container
SUPPORTED_VERSIONS = (1, 2)

# Caps: no header can make a reader allocate or compute beyond these.
MAX_SIDE = 16384
MAX_PIXELS = 1 << 26
MAX_INR_WIDTH = 1024
MAX_INR_DEPTH = 16
MAX_GROUPS = 64
MAX_PARAMS = 1 << 22
MAX_COEFFS = 1 << 22
MAX_BASIS_VALUES = 1 << 28  # sum over basis groups of size * rank
MAX_PAYLOAD = 1 << 26
# pixels x parameters: the multiply-adds of rendering (each weight is used
# once per pixel), about 2-4 minutes on 2 cores at the cap. An 8192x8192
# image at the default preset (33k parameters) needs 2.2e12 of the 4.4e12.
MAX_RENDER_MACS = 1 << 42
CHANNELS = (1, 3, 4)


@dataclass(frozen=True)
class Field:
    name: str
    code: str  # struct format character
    lo: float
    hi: float
    is_float: bool = False


def int_field(name: str, code: str, lo: int = 0, hi: int | None = None) -> Field:
    return Field(name, code, lo, (1 << (8 * struct.calcsize("<" + code))) - 1 if hi is None else hi)


def float_field(name: str, lo: float, hi: float) -> Field:
    return Field(name, "f", lo, hi, is_float=True)


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


def _check_value(f: Field, value: float, where: str) -> None:
    if f.is_float and not math.isfinite(value):
        raise PrcFormatError(f"{where}{f.name} is not a finite number ({value})")
    if not f.lo <= value <= f.hi:
        raise PrcFormatError(f"{where}{f.name} = {value} is outside [{f.lo:g}, {f.hi:g}]")


def pack_unchecked(table: tuple[Field, ...], obj: object) -> bytes:
    return b"".join(struct.pack("<" + f.code, getattr(obj, f.name)) for f in table)


def pack_fields(table: tuple[Field, ...], obj: object, where: str = "") -> bytes:
    for f in table:
        value = getattr(obj, f.name)
        _check_value(f, value, where)
        # The encoder must compute with exactly the value the decoder will read.
        if f.is_float and struct.unpack("<f", struct.pack("<f", value))[0] != value:
            raise PrcFormatError(f"{where}{f.name} = {value!r} is not a float32 value")
    return pack_unchecked(table, obj)


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise PrcFormatError(f"file is truncated: it ends inside the {what}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def table(self, table: tuple[Field, ...], what: str) -> dict:
        values = {}
        for f in table:
            size = struct.calcsize("<" + f.code)
            values[f.name] = struct.unpack("<" + f.code, self.take(size, what))[0]
        return values


def validate_fields(table: tuple[Field, ...], values: dict, where: str = "") -> None:
    for f in table:
        _check_value(f, values[f.name], where)


def check_image(width: int, height: int, channels: int) -> None:
    """The image a header of either version announces: channels defined, pixels within the cap."""
    if channels not in CHANNELS:
        raise PrcFormatError(f"channels = {channels}; only 1, 3 or 4 are defined")
    if width * height > MAX_PIXELS:
        raise PrcFormatError(f"{width}x{height} exceeds the cap of {MAX_PIXELS} pixels")


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
    sizes = [struct.calcsize("<" + "".join(f.code for f in t))
             for t in (HEADER_FIELDS, GROUP_FIELDS, TRAILER_FIELDS)]
    return len(MAGIC) + 1 + sizes[0] + n_groups * sizes[1] + sizes[2] + 4


def seal(body: bytes) -> bytes:
    """body followed by its CRC-32: the last step of every .prc file."""
    return body + struct.pack("<I", zlib.crc32(body))


def version_of(data: bytes) -> int:
    """The format version of a .prc file, after checking the magic bytes."""
    reader = Reader(bytes(data[:len(MAGIC) + 1]))
    magic = reader.take(len(MAGIC), "magic bytes")
    if magic != MAGIC:
        raise PrcFormatError(f"not a .prc file (magic bytes {magic!r}, expected {MAGIC!r})")
    (version,) = reader.take(1, "format version")
    if version not in SUPPORTED_VERSIONS:
        raise PrcFormatError(
            f"unsupported .prc format version {version}; this decoder reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    return version


def unpack(data: bytes) -> tuple[Header, bytes]:
    """Parse and check a version 1 .prc file; raises PrcFormatError saying what is wrong."""
    if version_of(data) != FORMAT_VERSION:
        raise PrcFormatError("not a version 1 .prc file")
    reader = Reader(bytes(data))
    reader.take(len(MAGIC) + 1, "magic bytes")
    top = reader.table(HEADER_FIELDS, "header")
    groups = [reader.table(GROUP_FIELDS, f"header of group {i}") for i in range(top["n_groups"])]
    trailer = reader.table(TRAILER_FIELDS, "header")
    expected = reader.pos + trailer["payload_length"] + 4
    if len(data) < expected:
        raise PrcFormatError(f"file is truncated: {len(data)} bytes, the header announces {expected}")
    if len(data) > expected:
        raise PrcFormatError(f"{len(data) - expected} unexpected bytes after the end of the file")
    payload = reader.take(trailer["payload_length"], "payload")
    (crc,) = struct.unpack("<I", reader.take(4, "CRC"))
    if crc != zlib.crc32(data[:-4]):
        raise PrcFormatError("CRC-32 mismatch: the file is corrupted")
    # Ranges are checked after the CRC so that a damaged file says so.
    validate_fields(HEADER_FIELDS, top)
    for i, values in enumerate(groups):
        validate_fields(GROUP_FIELDS, values, f"group {i}: ")
    validate_fields(TRAILER_FIELDS, trailer)
    del top["n_groups"]
    header = Header(groups=tuple(GroupHeader(**g) for g in groups), **top)
    validate_header(header)
    return header, payload
