"""A tar reader over 512-byte blocks that reads what the engine's tar-rs reads, total on
hostile input (engine-format.md §2.1, §6.4.3).

It accepts ustar (``ustar\\0``, with the ``prefix`` field), GNU (``ustar  ``, with ``L`` long
names and ``K`` long links) and old v7 headers, PAX ``x`` records (``path``, ``size``),
PAX ``g`` globals (yielded as entries, as tar-rs counts them), and every type flag; it
stops, like tar-rs, at the first all-zero block or at a clean end of input on a block
boundary.  Header checksums and numbers are checked as tar-rs checks them.  Deciding what a
type or a name *means* for the engine is :mod:`.rules`' job; this module only reads.

Nothing is trusted: a number that is not a number, a record over ``max_record`` bytes, two
long names for one member, a stream that ends inside a block: each is a
:class:`PackageError` with an ``engine-tar-*`` code, never another exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import PackageError

BLOCK = 512
ZERO_BLOCK = b"\0" * BLOCK
# Type flags, as tar-rs's EntryType names them.
REGULAR = ("0", "\0")
HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIRECTORY, FIFO = "1", "2", "3", "4", "5", "6"
GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE, PAX_LOCAL, PAX_GLOBAL = "L", "K", "S", "x", "g"
_FOLDED = (GNU_LONGNAME, GNU_LONGLINK, PAX_LOCAL)


@dataclass(frozen=True)
class TarHeader:
    """One entry as tar-rs yields it, extension records folded in."""

    path: bytes          # PAX path, else GNU long name, else (ustar prefix/) name
    typeflag: str        # one character
    size: int            # declared data size (PAX ``size`` wins)
    mode: int            # as written: may carry file-type bits (0o100644)
    old: bool = False    # not a POSIX ustar header (GNU or v7: tar-rs ``as_ustar()`` None)


def _cut(field: bytes) -> bytes:
    """A NUL-terminated field (tar-rs ``truncate``)."""
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def tar_error(code: str, message: str) -> PackageError:
    return PackageError(message, code=code)


# what Rust's str::trim removes (Unicode White_Space), for tar-rs ``octal_from``
_RUST_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_OCTAL = re.compile(r"\+?[0-7]+")


def parse_number(field: bytes, what: str) -> int:
    """A header number as tar-rs reads it: GNU base-256 (first byte's high bit set), else
    ``octal_from`` — up to the first NUL, UTF-8, trimmed, an optional ``+`` and octal
    digits (so an empty field is not 0 but an error)."""
    if field[:1] and field[0] & 0x80:
        value = field[0] & 0x3F if not field[0] & 0x40 else -1
        if value < 0:
            raise tar_error("engine-tar-corrupt", f"negative base-256 {what} in a tar header")
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    return octal(field, what)


def octal(field: bytes, what: str) -> int:
    """tar-rs ``octal_from``: the checksum is only ever octal."""
    try:
        text = _cut(field).decode("utf-8").strip(_RUST_SPACE)
    except UnicodeDecodeError:
        text = "?"
    if _OCTAL.fullmatch(text) is None:
        raise tar_error("engine-tar-corrupt", f"tar header {what} {field[:24]!r} is not an "
                        "octal number")
    return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    stored = octal(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    return stored == unsigned


def _mode(block: bytes, flag: str) -> int:
    """The mode; tar-rs sets permissions only ``if let Ok(mode)``, so a mode it cannot read
    (not octal, base-256 included) leaves the unpacker's default (0644 files, 0755
    directories)."""
    try:
        return octal(block[100:108], "mode")  # Header::mode(): octal_from, never base-256
    except PackageError:
        return 0o755 if flag == DIRECTORY else 0o644


def _style(block: bytes) -> str:
    magic = block[257:265]
    if magic == b"ustar  \0":
        return "gnu"
    if magic[:6] == b"ustar\0":
        return "ustar"
    return "v7"


def parse_pax(data: bytes) -> dict[bytes, bytes]:
    """``length key=value\\n`` records; malformed ones are corrupt (tar-rs refuses them)."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 24)
        digits = data[pos:space] if space > pos else b""
        if not digits or not all(0x30 <= c <= 0x39 for c in digits):
            raise tar_error("engine-tar-corrupt", "malformed PAX record length")
        end = pos + int(digits)
        if end <= space or end > len(data) or data[end - 1:end] != b"\n":
            raise tar_error("engine-tar-corrupt", "malformed PAX record")
        key, sep, value = data[space + 1:end - 1].partition(b"=")
        if not sep:
            raise tar_error("engine-tar-corrupt", "PAX record without '='")
        out[key] = value
        pos = end
    return out


def _once(first: bool, what: str) -> None:
    """tar-rs refuses two extension records of one kind for one member."""
    if not first:
        raise tar_error("engine-tar-corrupt", f"two {what} records describe the same member")


class TarReader:
    """Headers and data, in order, from ``read(n)`` (at most ``n`` bytes, ``b""`` at the
    end).  Call :meth:`next_header`, then :meth:`data` exactly once per entry."""

    def __init__(self, read: Callable[[int], bytes], max_record: int) -> None:
        self._read = read
        self.max_record = max_record
        self._left = 0  # data and padding of the current entry not yet consumed
        self._size = 0

    def _exact(self, n: int, what: str) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = self._read(min(n - got, 1 << 16))
            if not chunk:
                raise tar_error("engine-tar-truncated", f"the tar stream ends inside {what}")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _block(self) -> bytes | None:
        """The next header block; None at a clean end (EOF on a boundary, or zeros)."""
        first = self._read(BLOCK)
        if not first:
            return None
        if len(first) < BLOCK:
            first += self._exact(BLOCK - len(first), "a tar header")
        if first == ZERO_BLOCK:
            return None
        if not _checksum_ok(first):
            raise tar_error("engine-tar-corrupt", "tar header checksum mismatch")
        return first

    def _record(self, size: int, what: str) -> bytes:
        if size > self.max_record:
            raise tar_error("engine-limit-record", f"a {what} record of {size} bytes is "
                            f"over cloacina-build's {self.max_record}-byte bound")
        data = self._exact(size, f"a {what} record")
        self._exact(-size % BLOCK, f"a {what} record's padding")
        return data

    def next_header(self) -> TarHeader | None:
        """The next entry, extension records folded in; None at the end of the archive."""
        if self._left:
            self.data(None)
        longname: bytes | None = None
        pax: dict[bytes, bytes] | None = None
        seen_link = False
        while True:
            block = self._block()
            if block is None:
                if longname is not None or pax is not None or seen_link:
                    raise tar_error("engine-tar-truncated", "the tar stream ends after an "
                                    "extension record, before its member")
                return None
            flag = chr(block[156])
            size = parse_number(block[124:136], "size")
            if flag not in _FOLDED:
                return self._header(block, flag, size, longname, pax)
            if flag == GNU_LONGNAME:
                _once(longname is None, "long-name")
                longname = _cut(self._record(size, "GNU long-name"))
            elif flag == GNU_LONGLINK:
                _once(not seen_link, "long-link")
                self._record(size, "GNU long-link")  # a link target: links are refused
                seen_link = True
            else:
                _once(pax is None, "PAX")
                pax = parse_pax(self._record(size, "PAX"))

    def _header(self, block: bytes, flag: str, size: int, longname: bytes | None,
                pax: dict[bytes, bytes] | None) -> TarHeader:
        style = _style(block)
        path = _cut(block[0:100])
        if style == "ustar":
            prefix = _cut(block[345:500])
            if prefix:
                path = prefix + b"/" + path
        if longname is not None:
            path = longname
        if pax is not None and b"path" in pax:
            path = pax[b"path"]
        if pax is not None and b"size" in pax:
            digits = pax[b"size"]
            if not digits or len(digits) > 20 or not all(0x30 <= c <= 0x39 for c in digits):
                raise tar_error("engine-tar-corrupt", "PAX size is not a decimal number")
            size = int(digits)
        mode = _mode(block, flag)
        self._left = size + (-size % BLOCK)
        self._size = size
        return TarHeader(path, flag, size, mode,
                         old=style != "ustar" or block[263:265] != b"00")

    def data(self, sink: Callable[[bytes], None] | None) -> None:
        """The current entry's data, in chunks, to ``sink`` (or skipped), then padding."""
        left, self._left = self._size, 0
        pad = -left % BLOCK
        while left:
            chunk = self._read(min(left, 1 << 16))
            if not chunk:
                raise tar_error("engine-tar-truncated", "the tar stream ends inside a "
                                "member's data")
            left -= len(chunk)
            if sink is not None:
                sink(chunk)
        self._exact(pad, "a member's padding")
