"""What every .prc version shares: the magic bytes and version byte, the image
caps, the coefficient caps, and the declarative field tables.

A header field is described once, with its struct code and the range a
reader accepts; a format's writer and reader both walk the same table, so
they cannot drift apart (``siren.bitstream`` for version 1,
``latent.container`` for version 2). docs/format.md is the prose version.
All integers are little-endian.
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import IO

from .errors import PrcFormatError, PrcTruncatedError

MAGIC = b"PRNC"
SUPPORTED_VERSIONS = (1, 2, 3)

# Caps of every version: no header can make a reader allocate or compute beyond these.
MAX_SIDE = 16384
MAX_PIXELS = 1 << 26
CHANNELS = (1, 3, 4)
MAX_PARAMS = 1 << 22
MAX_COEFFS = 1 << 22
MAX_BASIS_VALUES = 1 << 28  # sum over basis groups of size * rank
# No .prc file is larger: a v1 payload is capped at 2^26 bytes beside a
# header of at most 1507, and v2's sections stay far below this in practice.
MAX_FILE_BYTES = 1 << 27


VARINT = "V"  # a field code beside struct's: unsigned LEB128, 1..10 bytes, shortest form
VARINT_MAX_BYTES = 10


@dataclass(frozen=True)
class Field:
    name: str
    code: str  # struct format character, or VARINT
    lo: float
    hi: float
    is_float: bool = False


def code_bits(code: str) -> int:
    """The bits a field of this code holds."""
    return 64 if code == VARINT else 8 * struct.calcsize("<" + code)


def int_field(name: str, code: str, lo: int = 0, hi: int | None = None) -> Field:
    return Field(name, code, lo, (1 << code_bits(code)) - 1 if hi is None else hi)


def varint(value: int) -> bytes:
    """The unsigned LEB128 bytes of a value in [0, 2^64): 7 bits a byte, low first,
    the top bit set on every byte but the last."""
    out = bytearray()
    while value >= 0x80:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def float_field(name: str, lo: float, hi: float) -> Field:
    return Field(name, "f", lo, hi, is_float=True)


def table_bytes(table: tuple[Field, ...]) -> int:
    """The packed size of a field table without varints."""
    return struct.calcsize("<" + "".join(f.code for f in table))


def _check_value(f: Field, value: float, where: str) -> None:
    if f.is_float and not math.isfinite(value):
        raise PrcFormatError(f"{where}{f.name} is not a finite number ({value})")
    if not f.lo <= value <= f.hi:
        raise PrcFormatError(f"{where}{f.name} = {value} is outside [{f.lo:g}, {f.hi:g}]")


def pack_unchecked(table: tuple[Field, ...], obj: object) -> bytes:
    return b"".join(varint(getattr(obj, f.name)) if f.code == VARINT
                    else struct.pack("<" + f.code, getattr(obj, f.name)) for f in table)


def pack_fields(table: tuple[Field, ...], obj: object, where: str = "") -> bytes:
    for f in table:
        value = getattr(obj, f.name)
        _check_value(f, value, where)
        # The encoder must compute with exactly the value the decoder will read.
        if f.is_float and struct.unpack("<f", struct.pack("<f", value))[0] != value:
            raise PrcFormatError(f"{where}{f.name} = {value!r} is not a float32 value")
    return pack_unchecked(table, obj)


class Reader:
    """Fields read in order from a file's bytes or from a binary stream. Reading
    past the end raises ``short``: PrcTruncatedError for a file, PrcFormatError
    for a section's body, which a file cut short cannot leave half there."""

    def __init__(self, source: bytes | IO[bytes],
                 short: type[PrcFormatError] = PrcTruncatedError):
        self.stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        self.short = short

    @property
    def pos(self) -> int:
        return self.stream.tell()

    def take(self, n: int, what: str) -> bytes:
        chunk = self.stream.read(n)
        if len(chunk) < n:
            raise self.short(f"file is truncated: it ends inside the {what}")
        return chunk

    def at_end(self) -> bool:
        return not self.stream.read(1)

    def table(self, table: tuple[Field, ...], what: str) -> dict:
        values = {}
        for f in table:
            if f.code == VARINT:
                values[f.name] = self.varint(f"{f.name} in the {what}")
            else:
                size = struct.calcsize("<" + f.code)
                values[f.name] = struct.unpack("<" + f.code, self.take(size, what))[0]
        return values

    def varint(self, what: str) -> int:
        """An unsigned LEB128 value in [0, 2^64), in its shortest form."""
        value = 0
        for i in range(VARINT_MAX_BYTES):
            (byte,) = self.take(1, what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if (byte == 0 and i > 0) or value >> 64:
                    raise PrcFormatError(f"{what}: not a shortest-form 64-bit varint")
                return value
        raise PrcFormatError(f"{what}: a varint longer than {VARINT_MAX_BYTES} bytes")


def validate_fields(table: tuple[Field, ...], values: dict, where: str = "") -> None:
    for f in table:
        _check_value(f, values[f.name], where)


def check_image(width: int, height: int, channels: int) -> None:
    """The image a header of either version announces: channels defined, pixels within the cap."""
    if channels not in CHANNELS:
        raise PrcFormatError(f"channels = {channels}; only 1, 3 or 4 are defined")
    if width * height > MAX_PIXELS:
        raise PrcFormatError(f"{width}x{height} exceeds the cap of {MAX_PIXELS} pixels")


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
