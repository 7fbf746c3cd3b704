"""The container of formats v2 and v3: magic, version, then typed sections, each
with its CRC-32.

A section is a 4-byte type, a flags byte (bit 0: critical), a u32 length,
the body and the CRC-32 of all four. A reader refuses an unknown critical
section and skips an unknown optional one, so optional sections (a colour
profile, metadata) can be added later without a new version. The order is
HEAD, NETS, the latents, the optional ICCP (the image's ICC colour profile)
and EXIF (its EXIF block) where the image had them, then DONE. The latents
are, in v2, one LATG section per grid from the coarsest to the finest, each
its own rANS stream; in v3, one LATS section holding one stream of every
grid, coarsest first (14 bytes of framing and ~31 bits of flush per grid
fewer). Either way a prefix of the file holds a coarser picture. Field
tables are
declarative, shared by writer and reader (``fileformat``'s machinery);
docs/format.md is the prose version.
"""
from __future__ import annotations

import contextlib
import io
import struct
import zlib
from dataclasses import dataclass, fields, replace
from typing import IO

from ..errors import PrcFormatError, PrcTruncatedError
from ..fileformat import (
    MAGIC,
    VARINT,
    Field,
    MAX_BASIS_VALUES,
    MAX_COEFFS,
    MAX_PARAMS,
    MAX_SIDE,
    Reader,
    int_field,
    pack_fields,
    validate_fields,
)

VERSIONS = (2, 3)
VERSION = 3  # what the encoder writes
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


def _varints(table: tuple[Field, ...], names: tuple[str, ...]) -> tuple[Field, ...]:
    """The table with these fields as varints, their ranges kept."""
    return tuple(replace(f, code=VARINT) if f.name in names else f for f in table)


# v3 writes the fields that are mostly small as varints: 9 bytes fewer in
# HEAD and about 7 in each group record (2 % of a file at 0.05 bpp)
FIELDS = {2: (HEAD_FIELDS, NET_GROUP_FIELDS),
          3: (_varints(HEAD_FIELDS, ("width", "height", "seed")),
              _varints(NET_GROUP_FIELDS, ("size", "chunk", "rank", "qmax")))}


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
class LatentFile:
    head: Head
    groups: tuple[NetGroup, ...]
    net_payload: bytes
    # The rANS streams. v2: one per grid, finest (level l0) first, None for a
    # grid a file cut short lacks (unpack's partial). v3: one, of every grid
    # coarsest first; None where a cut file has none of it.
    streams: tuple[bytes | None, ...]
    icc: bytes = b""  # the ICC profile, written back into the decoded image
    exif: bytes = b""  # the EXIF block, its orientation 1 (the pixels are upright)
    version: int = VERSION
    whole: bool = True  # False: a v3 stream cut short (its words up to the cut, unchecked)

    @property
    def latent_bytes(self) -> int:
        return sum(len(s) for s in self.streams if s)


assert {f.name for f in fields(Head)} == {f.name for f in HEAD_FIELDS}
assert {f.name for f in fields(NetGroup)} == {f.name for f in NET_GROUP_FIELDS}


def section(kind: bytes, body: bytes, critical: bool = True) -> bytes:
    """One section: type, flags, length, body, CRC-32 of them all."""
    record = kind + struct.pack("<BI", CRITICAL if critical else 0, len(body)) + body
    return record + struct.pack("<I", zlib.crc32(record))


def pack(f: LatentFile) -> bytes:
    """The complete file, in f's version."""
    head_fields, group_fields = FIELDS[f.version]
    nets = struct.pack("<B", len(f.groups)) + b"".join(
        pack_fields(group_fields, g, f"group {i}: ") for i, g in enumerate(f.groups))
    out = MAGIC + bytes([f.version]) + section(b"HEAD", pack_fields(head_fields, f.head))
    out += section(b"NETS", nets + f.net_payload)
    if f.version == 2:
        for i in reversed(range(len(f.streams))):
            out += section(b"LATG", struct.pack("<B", f.head.l0 + i) + f.streams[i])
    else:
        out += section(b"LATS", f.streams[0])
    check_metadata(f.icc, f.exif)
    for kind, body in zip(METADATA, (f.icc, f.exif)):
        if body:
            out += section(kind, body, critical=False)
    return out + section(b"DONE", b"")


def check_metadata(icc: bytes, exif: bytes) -> None:
    """ValueError where an ICC profile or EXIF block is over its section's cap."""
    for kind, body in zip(METADATA, (icc, exif)):
        if len(body) > MAX_METADATA:
            raise ValueError(f"{kind.decode()} block of {len(body)} bytes is over the "
                             f"{MAX_METADATA}-byte cap (--strip drops it)")


SECTION_HEADER = struct.Struct("<4sBI")  # type, flags, body length


def _section_header(reader: Reader) -> tuple[bytes, int, int]:
    """(type, flags, body length) of the next section, the length within its cap."""
    kind, flags, length = SECTION_HEADER.unpack(reader.take(SECTION_HEADER.size, "section header"))
    if kind in METADATA and length > MAX_METADATA:
        raise PrcFormatError(f"{kind.decode()} section of {length} bytes is over the "
                             f"{MAX_METADATA}-byte cap")
    if length > MAX_SECTION:
        raise PrcFormatError(f"section {kind!r} announces {length} bytes, over the cap of "
                             f"{MAX_SECTION}")
    return kind, flags, length


def _section_body(reader: Reader, kind: bytes, flags: int, length: int) -> bytes:
    """The body of a section whose header was just read, its CRC checked."""
    body = reader.take(length, f"section {kind!r}")
    (crc,) = struct.unpack("<I", reader.take(4, "section CRC"))
    if crc != zlib.crc32(SECTION_HEADER.pack(kind, flags, length) + body):
        raise PrcFormatError(f"CRC-32 mismatch in section {kind!r}: the file is corrupted")
    return body


def _sections(reader: Reader, partial: bool, version: int) -> list[tuple[bytes, bytes]]:
    """Every known or critical section up to DONE, CRCs checked; optional unknown ones
    skipped. With ``partial``, a file cut short gives the sections that are whole,
    and in v3 a LATS section cut short as (b"LATC", its words up to the cut)."""
    out: list[tuple[bytes, bytes]] = []
    latents = b"LATG" if version == 2 else b"LATS"
    while True:
        kind = None
        try:
            kind, flags, length = _section_header(reader)
            start = reader.pos
            body = _section_body(reader, kind, flags, length)
        except PrcTruncatedError:
            if not partial:
                raise
            if kind == b"LATS" and version == 3:
                reader.stream.seek(start)
                cut = reader.stream.read(length)
                out.append((b"LATC", cut[:len(cut) // 4 * 4]))
            return out
        if kind == b"DONE":
            if not reader.at_end():
                raise PrcFormatError("unexpected bytes after the end of the file")
            return out
        if kind in (b"HEAD", b"NETS", latents) + METADATA:
            out.append((kind, body))
        elif flags & CRITICAL:
            raise PrcFormatError(f"unknown critical section {kind!r}: this decoder cannot read it")


def _head(body: bytes, version: int) -> Head:
    """The HEAD section's fields, range-checked."""
    reader = Reader(body, short=PrcFormatError)
    values = reader.table(FIELDS[version][0], "HEAD section")
    if not reader.at_end():
        raise PrcFormatError("HEAD section has unexpected bytes")
    validate_fields(FIELDS[version][0], values)
    return Head(**values)


def describe(fp: IO[bytes], version: int) -> tuple[Head, bytes, bytes]:
    """(HEAD, ICC profile, EXIF block) of a v2 or v3 stream positioned after its version
    byte. Reads the HEAD section (checked) and the metadata sections; the
    others' bodies are passed over by seeking, and what lies past the header
    is left for ``unpack`` to check: a stream that ends early, or damage
    there, only leaves the metadata out."""
    reader = Reader(fp)
    kind, flags, length = _section_header(reader)
    if kind != b"HEAD":
        raise PrcFormatError("sections out of order: HEAD, NETS, then the latent grids")
    head = _head(_section_body(reader, kind, flags, length), version)
    metadata = {}
    with contextlib.suppress(PrcFormatError):
        while True:
            kind, flags, length = _section_header(reader)
            if kind == b"DONE":
                break
            if kind in METADATA:
                metadata[kind] = _section_body(reader, kind, flags, length)
            else:
                fp.seek(length + 4, io.SEEK_CUR)
    return head, metadata.get(b"ICCP", b""), metadata.get(b"EXIF", b"")


def layout(data: bytes) -> list[tuple[bytes, int]]:
    """(type, end offset) of each whole section of a v2 or v3 file, in order: the places
    a file cut short can end and still be read (``unpack``'s partial)."""
    reader = Reader(bytes(data))
    reader.take(len(MAGIC) + 1, "magic bytes")
    out: list[tuple[bytes, int]] = []
    with contextlib.suppress(PrcTruncatedError):
        while not out or out[-1][0] != b"DONE":
            kind, _, length = _section_header(reader)
            reader.take(length + 4, f"section {kind!r}")
            out.append((kind, reader.pos))
    return out


def _groups(body: bytes, version: int) -> tuple[tuple[NetGroup, ...], bytes]:
    """The NETS section's group records, checked, and the coefficient payload after them."""
    nets = Reader(body, short=PrcFormatError)
    (n_groups,) = nets.take(1, "NETS section")
    if not 1 <= n_groups <= MAX_GROUPS:
        raise PrcFormatError(f"n_groups = {n_groups} is outside [1, {MAX_GROUPS}]")
    groups = []
    for i in range(n_groups):
        g = nets.table(FIELDS[version][1], f"record of group {i}")
        validate_fields(FIELDS[version][1], g, f"group {i}: ")
        groups.append(NetGroup(**g))
        if (g["chunk"] == 0) != (g["rank"] == 0) or g["chunk"] > g["size"]:
            raise PrcFormatError(f"group {i}: chunk {g['chunk']} / rank {g['rank']} do not "
                                 f"fit size {g['size']}")
    if sum(g.n_coeffs for g in groups) > MAX_COEFFS \
            or sum(g.size * g.rank for g in groups) > MAX_BASIS_VALUES:
        raise PrcFormatError("the networks' groups exceed the coefficient or basis caps")
    return tuple(groups), body[nets.pos:]


def _v2_grids(head: Head, grids: list[tuple[bytes, bytes]], partial: bool) -> tuple:
    """A v2 file's per-grid streams, finest first, None for the grids a cut file lacks."""
    expected = list(range(head.l0 + head.levels - 1, head.l0 - 1, -1))
    levels = [body[0] if body else -1 for _, body in grids]
    if levels != (expected[:len(levels)] if partial else expected):
        raise PrcFormatError(f"latent grids: expected levels {expected}, coarsest first")
    return (None,) * (head.levels - len(grids)) + tuple(body[1:] for _, body in reversed(grids))


def unpack(data: bytes, partial: bool = False) -> LatentFile:
    """Parse and check a v2 or v3 file; PrcFormatError says what is wrong. With
    ``partial``, a file cut short after its NETS section gives what it holds of
    the latents: in v2 the grids that are whole (the coarsest) and None for the
    finer ones; in v3 the words of its stream up to the cut (``whole`` False)."""
    reader = Reader(bytes(data))
    version = reader.take(len(MAGIC) + 1, "magic bytes")[-1]
    if data[:len(MAGIC)] != MAGIC or version not in VERSIONS:
        raise PrcFormatError("not a version 2 or 3 .prc file")
    found = _sections(reader, partial, version)
    metadata = {k: body for k, body in found if k in METADATA}
    found = [(k, body) for k, body in found if k not in METADATA]
    kinds = [k for k, _ in found]
    if partial and len(kinds) < 2:
        raise PrcTruncatedError("file is truncated before the end of its NETS section")
    if version == 2:
        in_order = kinds[2:] == [b"LATG"] * (len(kinds) - 2)
    else:
        in_order = kinds[2:] in ([b"LATS"], [b"LATC"], []) if partial else kinds[2:] == [b"LATS"]
    if kinds[:2] != [b"HEAD", b"NETS"] or not in_order:
        raise PrcFormatError("sections out of order: HEAD, NETS, then the latent grids")
    head = _head(found[0][1], version)
    groups, payload = _groups(found[1][1], version)
    if version == 2:
        streams = _v2_grids(head, found[2:], partial)
    else:
        streams = (found[2][1] if len(found) > 2 else None,)
    return LatentFile(head, groups, payload, streams, metadata.get(b"ICCP", b""),
                      metadata.get(b"EXIF", b""), version, version == 2 or kinds[2:] == [b"LATS"])


def with_metadata(data: bytes, icc: bytes = b"", exif: bytes = b"") -> bytes:
    """A v2 or v3 file with its ICCP and EXIF sections replaced (empty: none)."""
    return pack(replace(unpack(data), icc=icc, exif=exif))


def overhead_bytes(f: LatentFile) -> int:
    """Bytes of f's file outside the coefficient and latent payloads, by the layout:
    magic and version, 13 per section, the field tables, n_groups, v2's levels."""
    head_fields, group_fields = FIELDS[f.version]
    sections = 3 + (f.head.levels if f.version == 2 else 1) + bool(f.icc) + bool(f.exif)
    return (len(MAGIC) + 1 + 13 * sections + len(pack_fields(head_fields, f.head)) + 1
            + sum(len(pack_fields(group_fields, g)) for g in f.groups) + len(f.icc)
            + len(f.exif) + (f.head.levels if f.version == 2 else 0))
