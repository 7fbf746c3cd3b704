"""The format v2 container: magic, version, then typed sections, each with its CRC-32.

A section is a 4-byte type, a flags byte (bit 0: critical), a u32 length,
the body and the CRC-32 of all four. A reader refuses an unknown critical
section and skips an unknown optional one, so optional sections (a colour
profile, metadata) can be added later without a new version. The order is
HEAD, NETS, one LATG per latent grid from the coarsest to the finest (so a
prefix of the file holds a coarser picture), the optional ICCP (the
image's ICC colour profile) and EXIF (its EXIF block) where the image had
them, then DONE. Field tables are
declarative, shared by writer and reader (``fileformat``'s machinery);
docs/format.md is the prose version.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, fields, replace

from ..errors import PrcFormatError
from ..fileformat import (
    MAGIC,
    MAX_BASIS_VALUES,
    MAX_COEFFS,
    MAX_PARAMS,
    MAX_SIDE,
    Reader,
    int_field,
    pack_fields,
    table_bytes,
    validate_fields,
)

VERSION = 2
CRITICAL = 1

# Field ranges; the decoder's compute caps (pranc_codec.latent.decoder) build on them.
MAX_LEVELS = 12
MAX_L0 = 6
MAX_SYN_WIDTH = 128
MAX_SYN_LAYERS = 6
MAX_SYN_RES = 4
MAX_ARM_WIDTH = 64
MAX_ARM_LAYERS = 4
MAX_ARM_CONTEXT = 24
MAX_GROUPS = 32
MAX_SECTION = 1 << 26
MAX_METADATA = 1 << 20  # bytes of an ICC profile or an EXIF block (real ones are far smaller)
METADATA = (b"ICCP", b"EXIF")

HEAD_FIELDS = (
    int_field("width", "I", 1, MAX_SIDE),
    int_field("height", "I", 1, MAX_SIDE),
    int_field("channels", "B", 1, 4),
    int_field("seed", "Q"),
    int_field("l0", "B", 0, MAX_L0),
    int_field("levels", "B", 1, MAX_LEVELS),
    int_field("syn_width", "B", 1, MAX_SYN_WIDTH),
    int_field("syn_layers", "B", 0, MAX_SYN_LAYERS),
    int_field("syn_res", "B", 0, MAX_SYN_RES),
    int_field("arm_context", "B", 1, MAX_ARM_CONTEXT),
    int_field("arm_width", "B", 1, MAX_ARM_WIDTH),
    int_field("arm_layers", "B", 0, MAX_ARM_LAYERS),
)
NET_GROUP_FIELDS = (
    int_field("size", "I", 1, MAX_PARAMS),
    int_field("chunk", "I", 0, MAX_PARAMS),  # 0: direct
    int_field("rank", "H", 0, 65535),
    int_field("step_exp", "b", -16, 4),
    int_field("laplace", "H", 1, 65535),
    int_field("qmax", "H", 0, 32767),
)


@dataclass(frozen=True)
class Head:
    width: int
    height: int
    channels: int
    seed: int
    l0: int
    levels: int
    syn_width: int
    syn_layers: int
    syn_res: int
    arm_context: int
    arm_width: int
    arm_layers: int


@dataclass(frozen=True)
class NetGroup:
    size: int
    chunk: int
    rank: int
    step_exp: int
    laplace: int
    qmax: int

    @property
    def n_coeffs(self) -> int:
        return self.size if self.chunk == 0 else -(-self.size // self.chunk) * self.rank


@dataclass(frozen=True)
class FileV2:
    head: Head
    groups: tuple[NetGroup, ...]
    net_payload: bytes
    grids: tuple[bytes, ...]  # rANS words of each grid, finest (level l0) first
    icc: bytes = b""  # the ICC profile, written back into the decoded image
    exif: bytes = b""  # the EXIF block, its orientation 1 (the pixels are upright)


assert {f.name for f in fields(Head)} == {f.name for f in HEAD_FIELDS}
assert {f.name for f in fields(NetGroup)} == {f.name for f in NET_GROUP_FIELDS}


def section(kind: bytes, body: bytes, critical: bool = True) -> bytes:
    """One section: type, flags, length, body, CRC-32 of them all."""
    record = kind + struct.pack("<BI", CRITICAL if critical else 0, len(body)) + body
    return record + struct.pack("<I", zlib.crc32(record))


def pack(f: FileV2) -> bytes:
    """The complete v2 file."""
    nets = struct.pack("<B", len(f.groups)) + b"".join(
        pack_fields(NET_GROUP_FIELDS, g, f"group {i}: ") for i, g in enumerate(f.groups))
    out = MAGIC + bytes([VERSION]) + section(b"HEAD", pack_fields(HEAD_FIELDS, f.head))
    out += section(b"NETS", nets + f.net_payload)
    for i in reversed(range(len(f.grids))):
        out += section(b"LATG", struct.pack("<B", f.head.l0 + i) + f.grids[i])
    for kind, body in zip(METADATA, (f.icc, f.exif)):
        if len(body) > MAX_METADATA:
            raise ValueError(f"{kind.decode()} block of {len(body)} bytes is over the "
                             f"{MAX_METADATA}-byte cap (--strip drops it)")
        if body:
            out += section(kind, body, critical=False)
    return out + section(b"DONE", b"")


def _sections(reader: Reader) -> list[tuple[bytes, bytes]]:
    """Every known or critical section up to DONE, CRCs checked; optional unknown ones skipped."""
    out = []
    while True:
        start = reader.pos
        kind = reader.take(4, "section type")
        flags, length = struct.unpack("<BI", reader.take(5, "section header"))
        if kind in METADATA and length > MAX_METADATA:
            raise PrcFormatError(f"{kind.decode()} section of {length} bytes is over the "
                                 f"{MAX_METADATA}-byte cap")
        if length > MAX_SECTION or reader.pos + length + 4 > len(reader.data):
            raise PrcFormatError(f"file is truncated: section {kind!r} announces {length} bytes")
        body = reader.take(length, "section")
        (crc,) = struct.unpack("<I", reader.take(4, "section CRC"))
        if crc != zlib.crc32(reader.data[start:reader.pos - 4]):
            raise PrcFormatError(f"CRC-32 mismatch in section {kind!r}: the file is corrupted")
        if kind == b"DONE":
            if reader.pos != len(reader.data):
                raise PrcFormatError(f"{len(reader.data) - reader.pos} unexpected bytes after "
                                     "the end of the file")
            return out
        if kind in (b"HEAD", b"NETS", b"LATG") + METADATA:
            out.append((kind, body))
        elif flags & CRITICAL:
            raise PrcFormatError(f"unknown critical section {kind!r}: this decoder cannot read it")


def unpack(data: bytes) -> FileV2:
    """Parse and check a v2 file; PrcFormatError says what is wrong."""
    reader = Reader(bytes(data))
    if reader.take(len(MAGIC), "magic bytes") != MAGIC or reader.take(1, "version")[0] != VERSION:
        raise PrcFormatError("not a version 2 .prc file")
    found = _sections(reader)
    metadata = {k: body for k, body in found if k in METADATA}
    found = [(k, body) for k, body in found if k not in METADATA]
    kinds = [k for k, _ in found]
    if kinds[:2] != [b"HEAD", b"NETS"] or set(kinds[2:]) - {b"LATG"}:
        raise PrcFormatError("sections out of order: HEAD, NETS, then the latent grids")
    head_reader = Reader(found[0][1])
    values = head_reader.table(HEAD_FIELDS, "HEAD section")
    if head_reader.pos != len(found[0][1]):
        raise PrcFormatError("HEAD section has unexpected bytes")
    validate_fields(HEAD_FIELDS, values)
    head = Head(**values)
    nets = Reader(found[1][1])
    (n_groups,) = nets.take(1, "NETS section")
    if not 1 <= n_groups <= MAX_GROUPS:
        raise PrcFormatError(f"n_groups = {n_groups} is outside [1, {MAX_GROUPS}]")
    groups = []
    for i in range(n_groups):
        g = nets.table(NET_GROUP_FIELDS, f"record of group {i}")
        validate_fields(NET_GROUP_FIELDS, g, f"group {i}: ")
        groups.append(NetGroup(**g))
        if (g["chunk"] == 0) != (g["rank"] == 0) or g["chunk"] > g["size"]:
            raise PrcFormatError(f"group {i}: chunk {g['chunk']} / rank {g['rank']} do not "
                                 f"fit size {g['size']}")
    if sum(g.n_coeffs for g in groups) > MAX_COEFFS \
            or sum(g.size * g.rank for g in groups) > MAX_BASIS_VALUES:
        raise PrcFormatError("the networks' groups exceed the coefficient or basis caps")
    grids = found[2:]
    expected = list(range(head.l0 + head.levels - 1, head.l0 - 1, -1))
    if [body[0] if body else -1 for _, body in grids] != expected:
        raise PrcFormatError(f"latent grids: expected levels {expected}, coarsest first")
    return FileV2(head, tuple(groups), found[1][1][nets.pos:],
                  tuple(body[1:] for _, body in reversed(grids)),
                  metadata.get(b"ICCP", b""), metadata.get(b"EXIF", b""))


def with_metadata(data: bytes, icc: bytes = b"", exif: bytes = b"") -> bytes:
    """A v2 file with its ICCP and EXIF sections replaced (empty: none)."""
    return pack(replace(unpack(data), icc=icc, exif=exif))


def overhead_bytes(n_groups: int, levels: int) -> int:
    """Bytes of a v2 file outside the coefficient and latent payloads."""
    table, group = table_bytes(HEAD_FIELDS), table_bytes(NET_GROUP_FIELDS)
    return len(MAGIC) + 1 + 13 * (3 + levels) + table + 1 + n_groups * group + levels
