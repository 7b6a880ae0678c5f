"""Walk the zstd frames of a file without decompressing them.

A package is written as independent frames (head, payload, trailer).  Finding frame
boundaries only needs the frame and block headers (RFC 8878, section 3.1), so ``inspect``
and ``sign`` can reach the trailer in O(blocks) small reads, whatever the payload size.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

ZSTD_MAGIC = 0xFD2FB528
MAX_FRAMES = 64


class FrameError(Exception):
    """A broken zstd framing; ``code`` is ``archive-truncated`` or ``archive-corrupt``."""

    def __init__(self, message: str, code: str = "archive-corrupt") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    offset: int
    length: int
    skippable: bool = False
    header: bytes = b""             # magic through frame content size
    checksum: bytes | None = None   # the frame's content checksum (xxh64, low 4 bytes)


def _reader(fh: BinaryIO):
    """``read(offset, n)``: ``os.pread`` on a real file (a seek on a buffered file throws
    its buffer away, and the walk makes one small read per block), else seek and read."""
    try:
        fd = fh.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        def read(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)
        return read
    return lambda offset, n: os.pread(fd, n, offset)


def _exact(read, offset: int, n: int) -> bytes:
    data = read(offset, n)
    if len(data) != n:
        raise FrameError("truncated zstd frame", "archive-truncated")
    return data


def walk_frames(fh: BinaryIO, file_size: int) -> list[Frame]:
    read = _reader(fh)
    frames: list[Frame] = []
    pos = 0
    while pos < file_size:
        if len(frames) >= MAX_FRAMES:
            raise FrameError(f"more than {MAX_FRAMES} zstd frames")
        frame = _frame_at(read, pos, file_size)
        frames.append(frame)
        pos += frame.length
    return frames


def _frame_at(read, pos: int, file_size: int) -> Frame:
    """The frame starting at ``pos``: its header checked, its blocks walked."""
    (magic,) = struct.unpack("<I", _exact(read, pos, 4))
    if magic & 0xFFFFFFF0 == 0x184D2A50:
        raise FrameError(f"skippable zstd frame at offset {pos}: packages have none, "
                         "so nothing in the file escapes the checks")
    if magic != ZSTD_MAGIC:
        raise FrameError(f"no zstd frame at offset {pos}")
    (desc,) = _exact(read, pos + 4, 1)
    fcs_flag, single, checksum, dict_flag = desc >> 6, desc >> 5 & 1, desc >> 2 & 1, \
        desc & 3
    if desc & 0x08:
        raise FrameError("reserved bit set in zstd frame header")
    header = 1 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + \
        ((1 if single else 0), 2, 4, 8)[fcs_flag]
    cursor = _walk_blocks(read, pos + 4 + header, file_size)
    cursor += 4 if checksum else 0
    if cursor > file_size:
        raise FrameError("truncated zstd frame", "archive-truncated")
    return Frame(pos, cursor - pos, False, _exact(read, pos, 4 + header),
                 _exact(read, cursor - 4, 4) if checksum else None)


def _walk_blocks(read, cursor: int, file_size: int) -> int:
    """The offset just past the frame's last block."""
    while True:
        raw = _exact(read, cursor, 3)
        bh = raw[0] | raw[1] << 8 | raw[2] << 16
        last, btype, bsize = bh & 1, bh >> 1 & 3, bh >> 3
        if btype == 3:
            raise FrameError("reserved zstd block type")
        if bsize == 0 and not last:  # no compressor writes one, and a flood of them would
            # make the walk cost out of all proportion to what the frame holds
            raise FrameError("an empty zstd block before the last one")
        cursor += 3 + (1 if btype == 1 else bsize)
        if cursor > file_size:
            raise FrameError("truncated zstd frame", "archive-truncated")
        if last:
            return cursor
