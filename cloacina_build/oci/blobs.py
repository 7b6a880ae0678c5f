"""Blob uploads and downloads with bounded memory.

Uploads (``POST`` then either one ``PUT`` with the whole body, or ``PATCH`` chunks and a
closing ``PUT``) read the file in 1 MiB pieces through :class:`Slice`, which urllib3 can
rewind to resend a piece (and retries 5xx answers); when an upload breaks anyway (the
registry forgot the session, the connection dropped past urllib3's retries) it starts again
from the beginning, at most :data:`ATTEMPTS` times.  Downloads hash and count every piece
as it arrives and stop as soon as the blob is longer than its descriptor says; the digest
is checked at the end, before the caller puts anything in place; the hashing runs in a
second thread (:class:`Hashing`), beside the reading and writing.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import IO, Protocol, TypeVar

from urllib3.exceptions import HTTPError as Urllib3Error

from ..errors import PackageError
from ..progress import NO_PROGRESS, Progress
from .manifest import Descriptor, sha256_digest
from .transport import CHUNK, RegistryError, Transport, discard

ATTEMPTS = 3
T = TypeVar("T")
OCTETS = "application/octet-stream"


class Registry(Protocol):
    """What blob transfers need of :class:`~.client.Registry`."""

    host: str
    transport: Transport
    chunk_size: int
    monolithic_max: int

    def url(self, repo: str, *parts: str) -> str: ...

    def blob_exists(self, repo: str, digest: str) -> bool: ...


class Present(Exception):
    """Raised by a body being sent once the registry turned out to have the blob."""


class Slice:
    """``length`` bytes of a file from ``start``, as a readable, seekable body that
    reports each piece read to ``progress``; once ``stop`` is set, reading raises
    :class:`Present`.  A file that ends early (it shrank while it was sent) is an error
    naming ``name``, not a request the registry waits on for its missing bytes."""

    def __init__(self, fh: IO[bytes], start: int, length: int, progress: Progress,
                 stop: threading.Event | None = None, name: str = "the file") -> None:
        self.fh, self.start, self.length, self.progress = fh, start, length, progress
        self.stop, self.name = stop, name
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        if self.stop is not None and self.stop.is_set():
            raise Present
        left = self.length - self.pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        self.fh.seek(self.start + self.pos)
        data = self.fh.read(n)
        if len(data) < n:
            raise changed(self.name)
        self.pos += len(data)
        self.progress.advance(len(data))
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else self.pos + pos if whence == 1 else self.length + pos
        return self.pos


def changed(name: str) -> PackageError:
    return PackageError(f"{name} changed while it was being pushed; nothing was committed",
                        hint="push again once nothing writes to the file")


def with_attempts(size: int, progress: Progress, send: Callable[[], T]) -> T:
    """``send()`` an upload, and again from the beginning when it breaks (the connection
    dropped past urllib3's retries, or the registry forgot the session: 404), at most
    :data:`ATTEMPTS` times."""
    for attempt in range(1, ATTEMPTS + 1):
        progress.total(size)
        try:
            return send()
        except RegistryError as exc:
            if attempt == ATTEMPTS or exc.status not in (None, 404) or exc.no_connection:
                raise  # 5xx and refused connections were retried by the transport already
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def upload(reg: Registry, repo: str, data: bytes, digest: str) -> None:
    """A blob whose bytes and digest are known (a config, a signature); a package file
    goes through :mod:`.lookahead`."""
    def once() -> None:
        _upload_once(reg, repo, io.BytesIO(data), len(data), digest, NO_PROGRESS)

    with_attempts(len(data), NO_PROGRESS, once)


def _location(reg: Registry, resp, base: str) -> str:
    location = resp.headers.get("Location")
    discard(resp)
    if not location:
        raise RegistryError(f"{reg.host} started an upload but gave no Location",
                            code="registry-error", status=resp.status,
                            hint="the registry does not follow the distribution API")
    return urllib.parse.urljoin(base, location)


def _with_digest(location: str, digest: str) -> str:
    sep = "&" if urllib.parse.urlsplit(location).query else "?"
    return f"{location}{sep}{urllib.parse.urlencode({'digest': digest})}"


def start(reg: Registry, repo: str, what: str) -> str:
    """A new upload session: its location."""
    start_url = reg.url(repo, "blobs", "uploads") + "/"
    resp = reg.transport.request("POST", start_url, what=what, expect=(202,))
    return _location(reg, resp, start_url)


def _upload_once(reg: Registry, repo: str, fh: IO[bytes], size: int, digest: str,
                 progress: Progress) -> None:
    what = f"uploading blob {digest[:19]} to {repo}"
    location = start(reg, repo, what)
    if size > reg.monolithic_max:
        location = patch_chunks(reg, location, fh, size, what, progress, reg.chunk_size)
        commit(reg, location, digest, what)
    else:
        commit(reg, location, digest, what, Slice(fh, 0, size, progress), size)


def commit(reg: Registry, location: str, digest: str, what: str,
            body: Slice | None = None, size: int = 0) -> None:
    """The closing ``PUT ?digest=``, with the whole blob as ``body`` or (after ``PATCH``
    chunks) with none; the registry checks the digest of what it received."""
    headers = {"Content-Length": str(size)}
    if body is not None:
        headers["Content-Type"] = OCTETS
    resp = reg.transport.request("PUT", _with_digest(location, digest), what=what,
                                 headers=headers, body=body if body is not None else b"",
                                 expect=(201,))
    said = resp.headers.get("Docker-Content-Digest")
    discard(resp)
    if said and said != digest:
        raise PackageError(f"{reg.host} stored blob {digest} as {said[:80]}",
                           code="oci-digest-mismatch",
                           hint="the file changed while it was uploaded? push again")


def patch_chunks(reg: Registry, location: str, fh: IO[bytes], size: int, what: str,
                 progress: Progress, chunk: int, stop: threading.Event | None = None,
                 name: str = "the file") -> str:
    """Send ``size`` bytes of ``fh`` in ``PATCH`` requests of ``chunk`` bytes; the
    location to send the next to."""
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        headers = {"Content-Type": OCTETS, "Content-Length": str(n),
                   "Content-Range": f"{offset}-{offset + n - 1}"}
        resp = reg.transport.request("PATCH", location, what=what, headers=headers,
                                     body=Slice(fh, offset, n, progress, stop, name),
                                     expect=(202,))
        location = _location(reg, resp, location)
        offset += n
    return location


class Hashing:
    """sha256 computed in a thread beside the one that reads the network and writes the
    file (hashlib lets go of the GIL for large pieces), so hashing overlaps the transfer;
    at most 8 pieces (8 MiB) wait for it."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.pieces: queue.Queue[bytes | None] = queue.Queue(8)
        self.thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (piece := self.pieces.get()) is not None:
            self.sha.update(piece)

    def update(self, piece: bytes) -> None:
        self.pieces.put(piece)

    def finish(self) -> str:
        """``sha256:<hex>`` of everything given; the thread has ended."""
        if self.thread.is_alive():
            self.pieces.put(None)
            self.thread.join()
        return "sha256:" + self.sha.hexdigest()


def download(reg: Registry, repo: str, desc: Descriptor, out: IO[bytes],
             progress: Progress) -> None:
    """Stream ``desc`` into ``out`` (from its start), again from the start when the
    connection breaks, at most :data:`ATTEMPTS` times."""
    for attempt in range(1, ATTEMPTS + 1):
        out.seek(0)
        out.truncate()
        progress.total(desc.size)
        try:
            _download_once(reg, repo, desc, out, progress)
            return
        except RegistryError as exc:
            if attempt == ATTEMPTS or exc.status is not None:
                raise  # only a connection broken mid-stream is tried again here
            time.sleep(0.5 * attempt)


def _download_once(reg: Registry, repo: str, desc: Descriptor, out: IO[bytes],
                   progress: Progress) -> None:
    resp = reg.transport.request("GET", reg.url(repo, "blobs", desc.digest),
                                 what=f"fetching blob {desc.digest[:19]} of {repo}")
    hashing, count = Hashing(), 0
    try:
        while chunk := resp.read1(CHUNK):  # what one read gives: no copy into a buffer
            count += len(chunk)
            if count > desc.size:
                raise _mismatch(desc, repo, f"more than the {desc.size} bytes it should have")
            hashing.update(chunk)
            out.write(chunk)
            progress.advance(len(chunk))
    except Urllib3Error as exc:
        raise reg.transport.unreachable(exc) from None
    finally:
        digest = hashing.finish()
        discard(resp)
    if count != desc.size or digest != desc.digest:
        raise _mismatch(desc, repo, f"{count} bytes with digest {digest}")


def check(data: bytes, desc: Descriptor, repo: str) -> None:
    digest = sha256_digest(data)
    if len(data) != desc.size or digest != desc.digest:
        raise _mismatch(desc, repo, f"{len(data)} bytes with digest {digest}")


def _mismatch(desc: Descriptor, repo: str, got: str) -> PackageError:
    return PackageError(f"blob {desc.digest} of {repo} does not match its descriptor: the "
                        f"registry sent {got}", code="oci-digest-mismatch",
                        hint="the registry's copy is damaged or was replaced; nothing was "
                             "written")
