"""The archive layer: a reproducible zstd-compressed tar, written and read as a stream.

Writing: members go out in three independent zstd frames (head: ``package.toml`` and
``manifest.json``; payload; trailer: signatures and the end-of-archive blocks), with
normalised USTAR headers.  Reading: :class:`TarStream` parses headers itself (regular files
and bounded PAX records only) and counts every byte against :class:`Limits`.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import PackageError, UsageError
from ..fsutil import atomic_output  # noqa: F401  (re-exported: archive.atomic_output)
from ..progress import NO_PROGRESS, Progress
from .limits import DEFAULT_LIMITS, Limits
from .names import NameSet, name_problem

BLOCK = 512
ZSTD_LEVEL = 3
DEFAULT_MTIME = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold
MAX_PAX = 64 * 1024
CHUNK = 1 << 20


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None:
        return DEFAULT_MTIME
    try:
        epoch = int(value)
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is not an integer",
                         hint="set it to seconds since 1970, or unset it") from None
    return max(epoch, 0)


def tar_header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    try:
        return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    except ValueError:
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def _pad(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def tar_member(name: str, data: bytes, mtime: int) -> bytes:
    return tar_header(name, len(data), mtime) + data + _pad(len(data))


END_OF_ARCHIVE = b"\0" * (2 * BLOCK)


def _compressor():
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True,
                                    write_content_size=True, threads=0)




def write_head(fh: BinaryIO, members: list[tuple[str, bytes]], mtime: int) -> None:
    fh.write(_compressor().compress(b"".join(tar_member(n, d, mtime) for n, d in members)))


def write_payload(fh: BinaryIO, name: str, source: Path, size: int, mtime: int,
                  progress: Progress = NO_PROGRESS) -> str:
    """Stream ``source`` into its own frame; returns the sha256 of what was written (each
    chunk read is reported to ``progress``)."""
    digest = hashlib.sha256()
    total = BLOCK + size + (-size % BLOCK)
    header = tar_header(name, size, mtime)
    total += len(header) - BLOCK
    with _compressor().stream_writer(fh, size=total, closefd=False) as writer, \
            open(source, "rb") as src:
        writer.write(header)
        copied = 0
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            copied += len(chunk)
            progress.advance(len(chunk))
        if copied != size:
            raise PackageError(f"{source} changed size while it was being packaged")
        writer.write(_pad(size))
    return digest.hexdigest()


def write_trailer(fh: BinaryIO, members: list[tuple[str, bytes]], mtime: int) -> None:
    data = b"".join(tar_member(n, d, mtime) for n, d in members) + END_OF_ARCHIVE
    fh.write(_compressor().compress(data))


# ---------------------------------------------------------------- reading


class _Counting:
    """Counts (and hashes) the raw bytes handed to the decompressor.

    The sha256 of the bytes before ``mark`` (the trailer frame) is the *archive digest*
    that embedded signatures cover; the sha256 of every byte is the file digest a detached
    signature covers.  One pass gives both.  Each read is reported to ``progress``.
    """

    def __init__(self, raw: BinaryIO, mark: int | None,
                 progress: Progress = NO_PROGRESS) -> None:
        self.raw = raw
        self.progress = progress
        self.count = 0
        self.mark = mark
        self._hash = hashlib.sha256() if mark is not None else None
        self.prefix_digest: str | None = None

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if self._hash is not None and data:
            if self.prefix_digest is None and self.mark is not None \
                    and self.count + len(data) >= self.mark:
                cut = self.mark - self.count
                self._hash.update(data[:cut])
                self.prefix_digest = self._hash.hexdigest()
                self._hash.update(data[cut:])
            else:
                self._hash.update(data)
        self.count += len(data)
        self.progress.advance(len(data))
        return data

    def finish(self) -> tuple[str | None, str | None]:
        """Read what the decompressor left; the archive digest and the file digest."""
        if self._hash is None:
            return None, None
        while self.read(CHUNK):
            pass
        if self.prefix_digest is None:  # mark at the very end (no trailer)
            self.prefix_digest = self._hash.hexdigest()
        return self.prefix_digest, self._hash.hexdigest()


@dataclass
class Member:
    name: str
    size: int
    index: int
    _stream: TarStream

    def read(self, n: int = CHUNK) -> bytes:
        return self._stream._read_data(self, n)

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def read_all(self, limit: int, what: str = "metadata",
                 code: str = "limit-metadata-size") -> bytes:
        if self.size > limit:
            raise PackageError(f"member {self.name!r} is {self.size} bytes, over the "
                               f"{limit}-byte limit for {what}", code=code)
        return b"".join(self.chunks())


def tar_error(code: str, message: str) -> PackageError:
    return PackageError(message, code=code)


def check_framing(fh: BinaryIO) -> list:
    """Walk every zstd frame header first: a frame cut short (even in its checksum, which a
    streaming decompressor may not notice at end of input) is refused before reading."""
    from .frames import FrameError, walk_frames

    start = fh.tell()
    size = fh.seek(0, os.SEEK_END)
    try:
        return walk_frames(fh, size)
    except FrameError as exc:
        raise tar_error(exc.code, f"the zstd framing is broken: {exc}") from None
    finally:
        fh.seek(start)


class TarStream:
    """Sequential, bounded reader of the tar stream inside a zstd-compressed package."""

    def __init__(self, fh: BinaryIO, limits: Limits = DEFAULT_LIMITS, *,
                 check_frames: bool = True, frames: list | None = None,
                 hash_raw: bool = True, progress: Progress = NO_PROGRESS) -> None:
        import zstandard

        if frames is None:
            frames = check_framing(fh) if check_frames and fh.seekable() else []
        self.frames = frames
        self.limits = limits
        mark = self.frames[-1].offset if self.frames and hash_raw else None
        self._raw = _Counting(fh, mark, progress)
        dctx = zstandard.ZstdDecompressor(max_window_size=limits.max_window_size)
        self._z = dctx.stream_reader(self._raw,  # type: ignore[arg-type]
                                     read_size=CHUNK, read_across_frames=True, closefd=False)
        self.total = 0
        self.count = 0
        self._left = 0
        self._pad = 0
        self._names = NameSet()
        self.ended = False

    # -- decompressed bytes, counted and bounded
    def _read(self, n: int) -> bytes:
        import zstandard

        try:
            data = self._z.read(n)
        except zstandard.ZstdError as exc:
            raise tar_error("archive-corrupt", f"zstd stream is corrupt: {exc}") from None
        self.total += len(data)
        if self.total > self.limits.max_total_size:
            raise tar_error("limit-total-size", "decompressed package exceeds "
                            f"{self.limits.max_total_size} bytes")
        if self.total > self.limits.ratio_grace and \
                self.total > self.limits.max_ratio * max(self._raw.count, 1):
            raise tar_error("limit-compression-ratio", "compression ratio exceeds "
                            f"{self.limits.max_ratio:g}:1 (a decompression bomb?)")
        return data

    def _read_exact(self, n: int, what: str) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = self._read(n - got)
            if not chunk:
                raise tar_error("archive-truncated", f"archive ends inside {what}")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n > 0:
            chunk = self._read(min(n, CHUNK))
            if not chunk:
                raise tar_error("archive-truncated", "archive ends inside a member")
            n -= len(chunk)

    def _read_data(self, member: Member, n: int) -> bytes:
        if member.index != self.count or self._left <= 0:
            return b""
        data = self._read(min(n, self._left))
        if not data:
            raise tar_error("archive-truncated", f"archive ends inside {member.name!r}")
        self._left -= len(data)
        return data

    def __iter__(self) -> Iterator[Member]:
        return self

    def _next_header(self) -> tuple[tarfile.TarInfo, dict[str, str]]:
        """The next member's header and its PAX records; StopIteration at the end."""
        pax: dict[str, str] = {}
        while True:
            block = self._read(BLOCK)
            if not block:
                raise tar_error("archive-truncated", "archive ends without the "
                                "end-of-archive marker")
            if len(block) < BLOCK:
                block += self._read_exact(BLOCK - len(block), "a tar header")
            if block == b"\0" * BLOCK:
                self.ended = True
                self._check_tail()
                raise StopIteration
            info = self._parse(block)
            if info.type != tarfile.XHDTYPE:
                return info, pax
            if pax:
                raise tar_error("archive-corrupt", "two PAX headers in a row")
            if info.size > MAX_PAX:
                raise tar_error("limit-metadata-size", "PAX header is larger than "
                                f"{MAX_PAX} bytes")
            pax = _parse_pax(self._read_exact(info.size, "a PAX header"))
            self._skip(-info.size % BLOCK)

    def __next__(self) -> Member:
        if self.ended:
            raise StopIteration
        self._skip(self._left + self._pad)
        self._left = self._pad = 0
        info, pax = self._next_header()
        name = pax.get("path", info.name)
        size = _pax_size(pax["size"]) if "size" in pax else info.size
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            kind = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link",
                    tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device",
                    tarfile.FIFOTYPE: "a fifo", tarfile.DIRTYPE: "a directory",
                    tarfile.XGLTYPE: "a global PAX header",
                    tarfile.GNUTYPE_LONGNAME: "a GNU long-name record",
                    tarfile.GNUTYPE_LONGLINK: "a GNU long-link record",
                    tarfile.GNUTYPE_SPARSE: "a sparse file",
                    tarfile.CONTTYPE: "a contiguous file"}.get(info.type, "an unknown type")
            raise tar_error("member-type", f"member {name!r} is {kind}; only regular files "
                            "are allowed")
        problem = name_problem(name) or self._names.add(name)
        if problem:
            raise tar_error(*problem)
        self.count += 1
        if self.count > self.limits.max_members:
            raise tar_error("limit-member-count", f"more than {self.limits.max_members} "
                            "members")
        if size > self.limits.max_member_size:
            raise tar_error("limit-member-size", f"member {name!r} declares {size} bytes, "
                            f"over the {self.limits.max_member_size}-byte limit")
        self._left, self._pad = size, -size % BLOCK
        return Member(name, size, self.count, self)

    def _parse(self, block: bytes) -> tarfile.TarInfo:
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise tar_error("archive-corrupt", f"bad tar header: {exc}") from None

    def digests(self) -> tuple[str | None, str | None]:
        """After the stream ended: sha256 of the bytes before the trailer frame (what an
        embedded signature covers) and of the whole file (what a ``.sig`` covers)."""
        return self._raw.finish()

    def _check_tail(self) -> None:
        second = self._read(BLOCK)
        if len(second) < BLOCK:
            second += self._read_exact(BLOCK - len(second), "the end-of-archive marker")
        if second.strip(b"\0"):
            raise tar_error("archive-trailing-data", "data after the end-of-archive marker")
        while chunk := self._read(CHUNK):
            if chunk.strip(b"\0"):
                raise tar_error("archive-trailing-data", "data after the end-of-archive "
                                "marker")


def _pax_size(value: str) -> int:
    """A PAX ``size`` record: ASCII decimal digits only (``str.isdigit`` also accepts '²',
    which ``int`` refuses); a bad one is corrupt, never silently replaced by the header's."""
    if not (value.isascii() and value.isdigit()):
        raise tar_error("archive-corrupt", f"PAX size {value[:32]!r} is not a decimal number")
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= 32 else 1 << 128  # past every limit; int() caps


def _parse_pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            raise tar_error("archive-corrupt", "malformed PAX record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise tar_error("archive-corrupt", "malformed PAX record length") from None
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1:end] != b"\n":
            raise tar_error("archive-corrupt", "malformed PAX record")
        key, sep, value = data[space + 1:end - 1].partition(b"=")
        if not sep:
            raise tar_error("archive-corrupt", "malformed PAX record")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return out
