"""The second bzip2 stream of an engine archive: this tool's signature trailer (§6.2).

``package --format engine`` writes every member in the first bzip2 stream, which is all the
engine reads (its single-stream ``BzDecoder``, §2.1), and the tar's two end blocks in a
second stream.  ``sign`` puts the embedded signature records in that second stream, as tar
members ``NAME-VERSION/.cloacina-build/signatures/<key id>.json`` before the end blocks,
and leaves the first stream's bytes untouched: the engine never sees a signature, and
``tar``, ``bzip2 -d`` and Python (multi-stream readers) see one archive.

:func:`read_signature_stream` reads such a stream with bounds (a small compressed size,
bounded decompression, at most ``max_signatures`` records of ``max_signature_size`` bytes,
only signature members, then exactly the two end blocks); anything else is not ours, and
the reason is kept.  :func:`encode_signature_stream` is the one encoding ``sign`` writes.
"""

from __future__ import annotations

import bz2
import io
from dataclasses import dataclass
from pathlib import Path

from ...errors import PackageError
from ..archive import END_OF_ARCHIVE, tar_member
from ..limits import DEFAULT_LIMITS, Limits
from ..manifest import SIGNATURE_DIR
from . import tar

BUILD_DIR = ".cloacina-build/"
ENGINE_SIGNATURE_DIR = BUILD_DIR + SIGNATURE_DIR   # under NAME-VERSION/
TRAILER_MAX = 1 << 20   # compressed bytes of a signature stream
BZIP2_LEVEL = 9


class NotOurs(Exception):
    """The stream is not a signature stream (internal: read_signature_stream says why)."""


@dataclass(frozen=True)
class SignatureStream:
    """What the bytes after the first stream hold: signature members named
    ``signatures/<key id>.json`` (as in the zstd format's trailer), or why they are not
    a signature stream (``problem``)."""

    members: tuple[tuple[str, bytes], ...] = ()
    problem: str | None = None

    @property
    def ours(self) -> bool:
        return self.problem is None


def encode_signature_stream(root: str, members: list[tuple[str, bytes]], mtime: int
                            ) -> bytes:
    """The second stream ``sign`` writes for ``members`` (``signatures/<id>.json``, in the
    order given): their tar members under ``ROOT/.cloacina-build/``, then the end blocks,
    as one bzip2 stream at level 9.  With no member it is the unsigned trailer."""
    data = b"".join(tar_member(f"{root}/{BUILD_DIR}{name}", body, mtime)
                    for name, body in members)
    return bz2.compress(data + END_OF_ARCHIVE, BZIP2_LEVEL)


def empty_trailer() -> bytes:
    """The second stream of an unsigned archive: only the tar's two end blocks."""
    return encode_signature_stream("", [], 0)


def ends_unsigned(path: Path) -> bool:
    """Whether the file ends in the unsigned trailer stream (42 bytes) this tool writes:
    then it carries no embedded signature, known without decompressing the first stream
    (any other ending takes a full read to find out)."""
    empty = empty_trailer()
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - len(empty)))
        return fh.read() == empty


def decompress_bound(limits: Limits) -> int:
    """The most a signature stream may decompress to: every record with a header and a
    PAX record, then the end blocks."""
    per_record = limits.max_signature_size + 4 * tar.BLOCK
    return limits.max_signatures * per_record + len(END_OF_ARCHIVE)


def read_signature_stream(path: Path, offset: int, size: int, root: str | None,
                          limits: Limits = DEFAULT_LIMITS) -> SignatureStream:
    """The bytes ``offset .. offset + size`` of ``path``, read as a signature stream.
    Total: every problem is a ``problem``, never an exception."""
    if size > TRAILER_MAX:
        return SignatureStream(problem=f"{size} bytes: larger than a signature stream "
                               f"({TRAILER_MAX} bytes at most)")
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    bound = decompress_bound(limits)
    dec = bz2.BZ2Decompressor()
    try:
        out = dec.decompress(data, max_length=bound + 1)
    except (OSError, EOFError, ValueError) as exc:
        return SignatureStream(problem=f"not a readable bzip2 stream ({exc})")
    if len(out) > bound:
        return SignatureStream(problem=f"decompresses to more than {bound} bytes")
    if not dec.eof:
        return SignatureStream(problem="a bzip2 stream cut short")
    if dec.unused_data:
        return SignatureStream(problem=f"{len(dec.unused_data)} byte(s) follow the "
                               "signature stream")
    try:
        return SignatureStream(tuple(_members(out, root, limits)))
    except PackageError as exc:
        return SignatureStream(problem=exc.message)
    except NotOurs as exc:
        return SignatureStream(problem=str(exc))


def _members(data: bytes, root: str | None, limits: Limits) -> list[tuple[str, bytes]]:
    """Signature members, then exactly the two end blocks (NotOurs otherwise)."""
    buf = io.BytesIO(data)
    reader = tar.TarReader(buf.read, 4 * tar.BLOCK)
    out: list[tuple[str, bytes]] = []
    while (header := reader.next_header()) is not None:
        name = _signature_name(header, root)
        if len(out) >= limits.max_signatures:
            raise NotOurs(f"more than {limits.max_signatures} signature records")
        if header.size > limits.max_signature_size:
            raise NotOurs(f"a signature record of {header.size} bytes (at most "
                               f"{limits.max_signature_size})")
        if any(name == seen for seen, _ in out):
            raise NotOurs(f"{name} appears twice")
        parts: list[bytes] = []
        reader.data(parts.append)
        out.append((name, b"".join(parts)))
    if data[buf.tell():] != tar.ZERO_BLOCK:  # the reader stopped after the first one
        raise NotOurs("the stream does not end with exactly the tar's two end blocks")
    return out


def _signature_name(header: tar.TarHeader, root: str | None) -> str:
    """``signatures/<file>.json`` for ``ROOT/.cloacina-build/signatures/<file>.json``."""
    prefix = f"{root}/{ENGINE_SIGNATURE_DIR}".encode()
    path = header.path
    rest = path[len(prefix):] if root is not None and path.startswith(prefix) else b""
    if header.typeflag not in tar.REGULAR or not rest.endswith(b".json") \
            or b"/" in rest or b"\\" in rest:
        shown = path.decode("utf-8", "backslashreplace")[:120]
        raise NotOurs(f"a member that is not a signature record ({shown!r})")
    try:
        return SIGNATURE_DIR + rest.decode("ascii")
    except UnicodeDecodeError:
        raise NotOurs("a signature record's name is not ASCII") from None
