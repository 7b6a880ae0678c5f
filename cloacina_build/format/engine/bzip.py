"""Format detection and a bounded reader of the *first* bzip2 stream of a file.

The engine reads an archive with bzip2-rs's single-stream ``BzDecoder`` (engine-format.md
§2.1): only the first bzip2 stream counts; a second stream, or garbage, after it is never
seen by the engine (but is part of the file's sha256).  :class:`FirstStream` does the same
with :class:`bz2.BZ2Decompressor`, which stops at the end of the first stream and keeps the
bytes after it in ``unused_data``: their offset in the file is :attr:`FirstStream.tail_offset`
(where a second stream could later carry signatures, §6.2).

Every decompressed byte is counted and the reader stops with our own error past
``max_bytes``; a read never returns more than asked, so memory stays bounded whatever the
stream claims.
"""

from __future__ import annotations

import bz2
from typing import BinaryIO

from ...errors import PackageError
from ...progress import NO_PROGRESS, Progress

BZIP2_MAGIC = b"BZh"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ENGINE = "engine"
CLOACINA = "cloacina"
UNKNOWN = "unknown"
CHUNK = 64 * 1024


def sniff(head: bytes) -> str:
    """``"engine"`` for a bzip2 stream (``BZh`` and a block-size digit '1'-'9'),
    ``"cloacina"`` for a zstd frame (this toolchain's format), else ``"unknown"``."""
    if head[:3] == BZIP2_MAGIC and len(head) >= 4 and 0x31 <= head[3] <= 0x39:
        return ENGINE
    if head[:4] == ZSTD_MAGIC:
        return CLOACINA
    return UNKNOWN


def detect_format(path) -> str:
    """:func:`sniff` over the first bytes of the file at ``path`` (``"unknown"`` when it
    cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return sniff(fh.read(4))
    except OSError:
        return UNKNOWN


class FirstStream:
    """The decompressed bytes of the first bzip2 stream of ``fh``, read with a bound.

    ``read(n)`` returns at most ``n`` bytes, ``b""`` at the end of the stream; a corrupt
    or truncated stream, or more than ``max_bytes`` decompressed bytes, raise
    :class:`PackageError` (codes ``engine-bzip2-corrupt``, ``engine-bzip2-truncated``,
    ``engine-limit-stream``).  After :meth:`drain`, ``tail_offset`` is the file offset where
    the first stream ended and ``tail_size`` how many bytes follow it.  Each chunk read
    from the file is reported to ``progress``.
    """

    def __init__(self, fh: BinaryIO, max_bytes: int, progress: Progress = NO_PROGRESS
                 ) -> None:
        self._fh = fh
        self._progress = progress
        self._d = bz2.BZ2Decompressor()
        self._pending = b""
        self.max_bytes = max_bytes
        self.consumed = 0        # compressed bytes read from the file
        self.produced = 0        # decompressed bytes handed out
        self.tail_offset: int | None = None
        self.tail_size = 0
        self.tail_head = b""

    def read(self, n: int) -> bytes:
        while not self._pending and not self._d.eof:
            self._step(n)
        data, self._pending = self._pending[:n], self._pending[n:]
        self.produced += len(data)
        if self.produced > self.max_bytes:
            raise PackageError(f"the first bzip2 stream decompresses to more than "
                               f"{self.max_bytes} bytes (our bound on what the engine's "
                               "unpack limits allow)", code="engine-limit-stream")
        return data

    def _step(self, n: int) -> None:
        raw = b""
        if self._d.needs_input:
            raw = self._fh.read(CHUNK)
            self.consumed += len(raw)
            self._progress.advance(len(raw))
            if not raw:
                raise PackageError("the bzip2 stream is truncated (the file ends before the "
                                   "stream's end marker)", code="engine-bzip2-truncated")
        try:
            self._pending = self._d.decompress(raw, max(n, 1))
        except (OSError, ValueError, EOFError) as exc:
            raise PackageError(f"the bzip2 stream is corrupt: {exc}",
                               code="engine-bzip2-corrupt") from None
        if self._d.eof:
            self._mark_tail()

    def _mark_tail(self) -> None:
        unused = self._d.unused_data
        self.tail_offset = self.consumed - len(unused)
        self.tail_head = (unused + self._fh.read(4))[:4]  # to tell a stream from garbage
        self.tail_size = self._fh.seek(0, 2) - self.tail_offset  # measured, never read

    def drain(self) -> None:
        """Decompress (and discard, counted) the rest of the first stream."""
        while self.read(CHUNK):
            pass
