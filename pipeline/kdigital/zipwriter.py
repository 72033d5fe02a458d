"""A minimal, deterministic ZIP writer for Office documents.

Why not ``zipfile``: it cannot take data that is already compressed, and a
document batch repeats the same unchanged members (styles, fonts, images)
thousands of times. Here each unchanged member is deflated once
(``Member.prepare``) and its bytes are copied into every archive; only the
rendered parts are compressed per document. Timestamps are fixed, so the same
content always gives the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

# 1980-01-01 00:00:00 in MS-DOS format: the earliest ZIP date, used for every member.
_DOS_TIME = 0
_DOS_DATE = (0 << 9) | (1 << 5) | 1
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_UTF8_FLAG = 0x800
DEFAULT_LEVEL = 6


@dataclass(frozen=True)
class Member:
    """One archive member, already compressed."""

    name: bytes
    flags: int
    method: int  # 0 stored, 8 deflated
    crc: int
    compressed: bytes
    size: int

    @classmethod
    def prepare(cls, name: str, data: bytes, level: int = DEFAULT_LEVEL) -> "Member":
        """Compress ``data`` for member ``name`` (stored when deflating does not help)."""
        raw = name.encode("utf-8")
        flags = _UTF8_FLAG if not raw.isascii() else 0
        crc = zlib.crc32(data)
        if level:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
            packed = compressor.compress(data) + compressor.flush()
            if len(packed) < len(data):
                return cls(raw, flags, 8, crc, packed, len(data))
        return cls(raw, flags, 0, crc, data, len(data))


def build(members: list[Member]) -> bytes:
    """The bytes of a ZIP archive holding ``members`` in order."""
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for m in members:
        header = _LOCAL.pack(0x04034B50, 20, m.flags, m.method, _DOS_TIME, _DOS_DATE,
                             m.crc, len(m.compressed), m.size, len(m.name), 0)
        chunks += (header, m.name, m.compressed)
        central.append(_CENTRAL.pack(0x02014B50, 20, 20, m.flags, m.method, _DOS_TIME, _DOS_DATE,
                                     m.crc, len(m.compressed), m.size, len(m.name), 0, 0, 0, 0, 0, offset))
        central.append(m.name)
        offset += len(header) + len(m.name) + len(m.compressed)
    directory = b"".join(central)
    chunks.append(directory)
    chunks.append(_END.pack(0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0))
    return b"".join(chunks)
