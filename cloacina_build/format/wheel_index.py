"""What a wheel says it holds, read from its last bytes: the zip's central directory and
RECORD, without extracting anything.

A wheel inside a package is a member of a zstd-compressed tar, so it cannot be seeked
without decompressing everything before the point sought.  The reader keeps only the
wheel's last ``Limits.max_wheel_index`` bytes while the member streams past
(:class:`Tail`), and reads the central directory and RECORD from them with :mod:`zipfile`
and installer's RECORD parser, through :class:`Window`: a file holding a few byte ranges
of the wheel that refuses to read anywhere else.  PEP 427 puts ``.dist-info`` at the end of
the archive, so RECORD is almost always in the tail; when it is not, :func:`read_index`
returns the range it needs (:class:`Needed`) and the caller streams the member once more to
fetch exactly that range (:func:`capture`).  Memory stays within the bound whatever the
wheel's size, and nothing is written to disk.

Nothing in the zip is trusted for allocation: the entry count is read from the end record
and refused over ``max_wheel_entries`` before :mod:`zipfile` lists the entries, RECORD is
read through a bounded decompressing read, and its rows are parsed by installer (the
parser ``validate`` and the loader use).
"""

from __future__ import annotations

import base64
import binascii
import csv
import zipfile
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..findings import Finding, error
from .limits import Limits
from .wheel import ZIP_ERRORS, structure_findings

SIGNATURE_FILES = ("RECORD.jws", "RECORD.p7s")  # never listed in RECORD (PEP 376/427)


class OutsideWindow(OSError):
    """A read of a part of the wheel that the window does not hold."""


class Window:
    """A read-only, seekable file of ``size`` bytes of which only ``pieces`` (offset →
    bytes) are held; reading anywhere else raises :class:`OutsideWindow`."""

    def __init__(self, size: int, pieces: dict[int, bytes], name: str | None = None) -> None:
        self.size = size
        self.pieces = dict(sorted(pieces.items()))
        self.name = name
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the wheel")
        self._pos = base + offset
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        out = []
        while self._pos < end:
            piece = self._piece_at(self._pos)
            got = piece[1][self._pos - piece[0]:end - piece[0]]
            out.append(got)
            self._pos += len(got)
        return b"".join(out)

    def _piece_at(self, pos: int) -> tuple[int, bytes]:
        for start, data in self.pieces.items():
            if start <= pos < start + len(data):
                return start, data
        raise OutsideWindow(f"byte {pos} of the wheel is outside the part that was kept")

    def with_piece(self, start: int, data: bytes) -> Window:
        return Window(self.size, {**self.pieces, start: data}, self.name)


class Tail:
    """The last ``keep`` bytes (or a little more) of a stream fed chunk by chunk."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.size = 0
        self._parts: deque[bytes] = deque()
        self._held = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._parts.append(chunk)
        self._held += len(chunk)
        while self._parts and self._held - len(self._parts[0]) >= self.keep:
            self._held -= len(self._parts.popleft())

    def window(self, name: str | None = None) -> Window:
        data = b"".join(self._parts)[-self.keep:] if self.keep else b""
        return Window(self.size, {self.size - len(data): data}, name)


def capture(chunks: Iterable[bytes], start: int, end: int) -> bytes:
    """Bytes ``start``..``end`` of a stream given as chunks (read no further than ``end``)."""
    out, pos = [], 0
    for chunk in chunks:
        lo, hi = max(start - pos, 0), min(end - pos, len(chunk))
        if lo < hi:
            out.append(chunk[lo:hi])
        pos += len(chunk)
        if pos >= end:
            break
    return b"".join(out)


@dataclass(frozen=True)
class ZipEntry:
    name: str
    size: int          # uncompressed, as the central directory declares it
    compressed: int


@dataclass(frozen=True)
class RecordRow:
    path: str
    size: int | None   # None when RECORD gives no size
    sha256: str | None  # hex; None when RECORD gives no hash, or not a sha256
    hash: str | None   # RECORD's hash as written ("sha256=<urlsafe base64>")


@dataclass(frozen=True)
class Needed:
    """RECORD lies outside the window: the byte range of its zip entry."""

    start: int
    end: int


@dataclass(frozen=True)
class WheelIndex:
    entries: tuple[ZipEntry, ...] = ()
    record_path: str | None = None
    rows: tuple[RecordRow, ...] = ()
    findings: tuple[Finding, ...] = field(default=())
    complete: bool = False     # the directory and RECORD were both read


def read_index(window: Window, limits: Limits, where: str) -> WheelIndex | Needed:
    """The wheel's central directory and RECORD from ``window``; findings for what cannot
    be read.  :class:`Needed` when RECORD is outside the window (fetch it and call again)."""
    problem = _entry_count_problem(window, limits, where)
    if problem is not None:
        return WheelIndex(findings=(problem,))
    try:
        zf = zipfile.ZipFile(window)
    except OutsideWindow:
        return WheelIndex(findings=(error(
            "wheel-limit-index", "the wheel's central directory starts more than "
            f"{limits.max_wheel_index} bytes before its end", where),))
    except ZIP_ERRORS as exc:
        return WheelIndex(findings=(error("wheel-bad-zip", "the payload is not a readable "
                                          f"wheel: {exc}", where),))
    with zf:
        findings = structure_findings(zf, limits, where)
        entries = tuple(ZipEntry(i.filename, i.file_size, i.compress_size)
                        for i in zf.infolist() if not i.filename.endswith("/"))
        if any(f.code == "wheel-limit-entries" for f in findings):
            return WheelIndex(findings=tuple(findings))
        record_path, missing = _record_path(zf, where)
        if record_path is None:
            return WheelIndex(entries, None, (), tuple(findings) + (missing,) if missing
                              else tuple(findings))
        data = _read_record(zf, record_path, limits, where)
        if isinstance(data, (Needed, Finding)):
            return data if isinstance(data, Needed) else \
                WheelIndex(entries, record_path, (), tuple(findings) + (data,))
    rows, problems = parse_record(data, where)
    return WheelIndex(entries, record_path, rows, tuple(findings + problems), True)


def _entry_count_problem(window: Window, limits: Limits, where: str) -> Finding | None:
    """The end record's entry count, checked before :mod:`zipfile` builds one object per
    entry (its central directory could hold hundreds of thousands of tiny entries)."""
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:  # pragma: no cover  (a Python without it: zipfile's own checks)
        return None
    try:
        found = end_record(window)
    except ZIP_ERRORS:
        return None  # zipfile itself reports it
    if found and found[zipfile._ECD_ENTRIES_TOTAL] > limits.max_wheel_entries:  # type: ignore[attr-defined]
        return error("wheel-limit-entries", "the wheel declares "
                     f"{found[zipfile._ECD_ENTRIES_TOTAL]} entries, over the limit of "  # type: ignore[attr-defined]
                     f"{limits.max_wheel_entries}", where)
    return None


def _record_path(zf: zipfile.ZipFile, where: str) -> tuple[str | None, Finding | None]:
    tops = {name.split("/", 1)[0] for name in zf.namelist()}
    dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
    if len(dist_infos) != 1:
        return None, error("wheel-dist-info", "the wheel does not contain exactly one "
                           f".dist-info directory (found {len(dist_infos)})", where)
    record = f"{dist_infos[0]}/RECORD"
    if record not in zf.NameToInfo:
        return None, error("wheel-record", f"the wheel has no {record}", where)
    return record, None


def _read_record(zf: zipfile.ZipFile, name: str, limits: Limits, where: str
                 ) -> bytes | Needed | Finding:
    info = zf.getinfo(name)
    limit = limits.max_wheel_index
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except OutsideWindow:
        end = min((i.header_offset for i in zf.infolist() if i.header_offset >
                   info.header_offset), default=zf.start_dir)
        if end - info.header_offset > limit + (1 << 16):
            return _too_large(name, limit, where)
        return Needed(info.header_offset, end)
    except ZIP_ERRORS as exc:
        return error("wheel-bad-zip", f"cannot read {name}: {exc}", where)
    if len(data) > limit:
        return _too_large(name, limit, where)
    return data


def _too_large(name: str, limit: int, where: str) -> Finding:
    return error("wheel-limit-dist-info", f"{name} is larger than {limit} bytes", where)


def parse_record(data: bytes, where: str) -> tuple[tuple[RecordRow, ...], list[Finding]]:
    """RECORD's rows, parsed by installer; a row it refuses is a finding and is left out."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return (), [error("wheel-record", "RECORD is not UTF-8", where)]
    return record_rows(text, where)


def record_rows(text: str, where: str) -> tuple[tuple[RecordRow, ...], list[Finding]]:
    """:func:`parse_record` of RECORD's text: the one reader of RECORD's rows (``ls``, and
    the install checks' rows that name no file of the wheel)."""
    from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file

    rows: list[RecordRow] = []
    findings: list[Finding] = []
    try:
        for path, hash_, size in parse_record_file(text.splitlines()):
            try:
                entry = RecordEntry.from_elements(path, hash_, size)
            except InvalidRecordEntry as exc:
                findings.append(error("wheel-record", f"RECORD's row for {path!r} is "
                                      f"invalid: {', '.join(exc.issues)}", where))
                continue
            rows.append(RecordRow(entry.path, entry.size, _hex_sha256(hash_),
                                  hash_ or None))
    except (InvalidRecordEntry, csv.Error) as exc:
        findings.append(error("wheel-record", f"RECORD cannot be parsed: {exc}", where))
    return tuple(rows), findings


def _hex_sha256(value: str) -> str | None:
    """A RECORD hash ``sha256=<urlsafe base64, unpadded>`` as hex; None for another."""
    name, sep, digest = value.partition("=")
    if not sep or name != "sha256":
        return None
    try:
        raw = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


__all__ = ["Needed", "OutsideWindow", "RecordRow", "Tail", "WheelIndex", "Window",
           "ZipEntry", "capture", "parse_record", "read_index", "record_rows"]
