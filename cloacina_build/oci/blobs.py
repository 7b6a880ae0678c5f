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

import contextlib
import hashlib
import queue
import threading
import time
import urllib.parse
from pathlib import Path
from typing import IO, Protocol

from urllib3.exceptions import HTTPError as Urllib3Error

from ..errors import PackageError, UsageError
from ..fsutil import file_sha256
from ..progress import Progress
from .manifest import Descriptor, sha256_digest
from .transport import CHUNK, RegistryError, Transport, discard

ATTEMPTS = 3
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
    :class:`Present`."""

    def __init__(self, fh: IO[bytes], start: int, length: int, progress: Progress,
                 stop: threading.Event | None = None) -> None:
        self.fh, self.start, self.length, self.progress = fh, start, length, progress
        self.stop = stop
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
        self.pos += len(data)
        self.progress.advance(len(data))
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else self.pos + pos if whence == 1 else self.length + pos
        return self.pos


def _open(source: bytes | Path) -> IO[bytes]:
    import io

    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def upload(reg: Registry, repo: str, source: bytes | Path, size: int, digest: str,
           progress: Progress) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        progress.total(size)
        try:
            with _open(source) as fh:
                _upload_once(reg, repo, fh, size, digest, progress)
            return
        except RegistryError as exc:
            if attempt == ATTEMPTS or exc.status not in (None, 404):
                raise  # 5xx were retried by the transport already
            time.sleep(0.5 * attempt)


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


def _start(reg: Registry, repo: str, what: str) -> str:
    """A new upload session: its location."""
    start_url = reg.url(repo, "blobs", "uploads") + "/"
    resp = reg.transport.request("POST", start_url, what=what, expect=(202,))
    return _location(reg, resp, start_url)


def _upload_once(reg: Registry, repo: str, fh: IO[bytes], size: int, digest: str,
                 progress: Progress) -> None:
    what = f"uploading blob {digest[:19]} to {repo}"
    location = _start(reg, repo, what)
    if size > reg.monolithic_max:
        location = _patch_chunks(reg, location, fh, size, what, progress, reg.chunk_size)
        _commit(reg, location, digest, what)
    else:
        _commit(reg, location, digest, what, Slice(fh, 0, size, progress), size)


def _commit(reg: Registry, location: str, digest: str, what: str,
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


def _patch_chunks(reg: Registry, location: str, fh: IO[bytes], size: int, what: str,
                  progress: Progress, chunk: int, stop: threading.Event | None = None
                  ) -> str:
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        headers = {"Content-Type": OCTETS, "Content-Length": str(n),
                   "Content-Range": f"{offset}-{offset + n - 1}"}
        resp = reg.transport.request("PATCH", location, what=what, headers=headers,
                                     body=Slice(fh, offset, n, progress, stop),
                                     expect=(202,))
        location = _location(reg, resp, location)
        offset += n
    return location


# -- a file, hashed while it is sent -----------------------------------------------------


class Lookahead(threading.Thread):
    """The digest of a file being uploaded, computed in a second thread (reading the
    file a second time, from the page cache), then whether the repository has that blob
    already (a ``HEAD`` on a connection of its own).  When it has, ``present`` is set and
    the upload stops where it is."""

    def __init__(self, reg: Registry, repo: str, path: Path) -> None:
        super().__init__(name="sha256-lookahead", daemon=True)
        self.reg, self.repo, self.path = reg, repo, path
        self.present = threading.Event()
        self.digest: str | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.digest = "sha256:" + file_sha256(self.path)
            if self.reg.blob_exists(self.repo, self.digest):
                self.present.set()
        except BaseException as exc:  # noqa: BLE001 (raised again in the uploading thread)
            self.error = exc

    def result(self) -> str:
        """The digest, once known; the thread's error, if it met one."""
        self.join()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest


def upload_file(reg: Registry, repo: str, path: Path, size: int, progress: Progress
                ) -> tuple[str, bool]:
    """Upload the file at ``path`` without reading it first to learn its digest: the
    bytes go out in ``PATCH`` requests (one, or chunks above ``monolithic_max``) while a
    :class:`Lookahead` hashes the file, and the closing ``PUT`` names the digest.  When
    the repository turns out to have the blob, the upload is given up.  Returns the
    digest and whether the blob was sent.  Started again from the beginning when the
    upload breaks, as :func:`upload` is."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", code="os-error",
                         hint="check the file's permissions") from None
    ahead = Lookahead(reg, repo, path)
    for attempt in range(1, ATTEMPTS + 1):
        progress.total(size)
        try:
            with open(path, "rb") as fh:
                sent = _send_file(reg, repo, fh, size, ahead, progress)
            return ahead.result(), sent
        except RegistryError as exc:
            if attempt == ATTEMPTS or exc.status not in (None, 404):
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _send_file(reg: Registry, repo: str, fh: IO[bytes], size: int, ahead: Lookahead,
               progress: Progress) -> bool:
    what = f"uploading {ahead.path.name} to {repo}"
    location = _start(reg, repo, what)
    chunk = size if size <= reg.monolithic_max else reg.chunk_size
    try:
        location = _patch_chunks(reg, location, fh, size, what, progress, chunk,
                                 ahead.present)
    except Present:
        pass
    digest = ahead.result()
    if ahead.present.is_set():
        _cancel(reg, location, what)
        return False
    _commit(reg, location, digest, what)
    return True


def _cancel(reg: Registry, location: str, what: str) -> None:
    """Give up an upload session (the registry would expire it anyway)."""
    with contextlib.suppress(RegistryError):
        discard(reg.transport.request("DELETE", location, what=what,
                                      allow=(202, 204, 404, 405)))


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
