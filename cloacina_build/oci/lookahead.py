"""A package file uploaded without reading it first to learn its digest.

The file goes out in ``PATCH`` requests (one up to ``monolithic_max``, chunks above) while a
:class:`Lookahead` thread hashes it (hashlib lets go of the GIL, so the hash runs beside the
upload) and then asks the registry whether it has that blob (``HEAD``).  The closing ``PUT``
names the digest, and the registry checks it.  When the registry turns out to have the blob
already, the upload stops where it is and its session is given up.  A ``HEAD`` that fails,
or has not answered :data:`ASK_WAIT` seconds after every byte is sent, only means the blob
is not known to be there: the upload is committed.  What is pushed is the file's first
``size`` bytes: a file that ends early, or is longer when it is hashed, is an error, and
other changes fail the registry's digest check; either way nothing is committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import IO

from ..errors import CloacinaError, UsageError
from ..progress import Progress
from .blobs import CHUNK, Present, Registry, changed, commit, patch_chunks, start, with_attempts
from .transport import discard

ASK_WAIT = 5.0  # seconds to wait, once every byte is sent, for the HEAD's answer
CANCEL_WAIT = 2.0  # seconds a DELETE of an abandoned session may take (on Ctrl-C too)


class Lookahead(threading.Thread):
    """The digest of exactly ``size`` bytes of the file at ``path``, computed in a thread
    of its own (reading the file a second time, from the page cache), then whether the
    repository has that blob already.  When it has, ``present`` is set."""

    def __init__(self, reg: Registry, repo: str, path: Path, size: int) -> None:
        super().__init__(name="sha256-lookahead", daemon=True)
        self.reg, self.repo, self.path, self.size = reg, repo, path, size
        self.present, self.cancelled = threading.Event(), threading.Event()
        self.hashed = threading.Event()  # the digest (or the error) is known
        self.asked = threading.Event()   # and the registry has answered the HEAD (or not)
        self.digest: str | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.hashed.set()
            self.asked.set()

    def _run(self) -> None:
        try:
            self.digest = _hash(self.path, self.size, self.cancelled)
        except Exception as exc:  # noqa: BLE001 (raised again in the uploading thread)
            self.error = exc
            return
        self.hashed.set()
        if self.digest is None:
            return
        with contextlib.suppress(CloacinaError):  # not known to be there: upload it
            if self.reg.blob_exists(self.repo, self.digest):
                self.present.set()

    def result(self) -> str:
        """The digest, once hashed; the error the hashing met, if any."""
        self.hashed.wait()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest

    def stop(self) -> None:
        """Stop hashing at the next piece, and wait (a second at most: a ``HEAD`` already
        asked is not waited for, and its answer is not used) for the thread to end."""
        self.cancelled.set()
        self.join(timeout=1.0)


def _hash(path: Path, size: int, cancelled: threading.Event) -> str | None:
    """``sha256:<hex>`` of the file's ``size`` bytes (None once ``cancelled``); a file
    that is shorter or longer than that is :func:`.blobs.changed`."""
    h, left = hashlib.sha256(), size
    try:
        with open(path, "rb", buffering=0) as fh:
            while left > 0:
                if cancelled.is_set():
                    return None
                piece = fh.read(min(CHUNK, left))
                if not piece:
                    raise changed(str(path))
                h.update(piece)
                left -= len(piece)
            if fh.read(1):
                raise changed(str(path))
    except OSError as exc:
        raise _unreadable(path, exc) from None
    return "sha256:" + h.hexdigest()


def _unreadable(path: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot read {path}: {exc.strerror}", code="os-error",
                      hint="check that the file exists and that you may read it")


def upload_file(reg: Registry, repo: str, path: Path, size: int, progress: Progress
                ) -> tuple[str, bool]:
    """Upload the ``size`` bytes of the file at ``path``, hashing them meanwhile: their
    digest, and whether they were sent (False: the repository had the blob).  Started
    again from the beginning when the upload breaks (:func:`.blobs.with_attempts`)."""
    ahead = Lookahead(reg, repo, path, size)
    try:
        sent = with_attempts(size, progress,
                             lambda: _send_file(reg, repo, path, size, ahead, progress))
        return ahead.result(), sent
    except Exception:
        ahead.stop()
        raise
    finally:
        ahead.cancelled.set()  # Ctrl-C: the thread stops at its next piece, unwaited for


def _send_file(reg: Registry, repo: str, path: Path, size: int, ahead: Lookahead,
               progress: Progress) -> bool:
    if ahead.present.is_set():  # known before a (second) session is started
        return False
    what = f"uploading {path.name} to {repo}"
    with _read(path) as fh:
        location = start(reg, repo, what)
        try:
            location = _send_body(reg, location, fh, size, what, progress, ahead)
            digest = ahead.result()
            ahead.asked.wait(ASK_WAIT)  # past it, commit: right whatever the HEAD says
            if ahead.present.is_set():
                _cancel(reg, location, what)
                return False
            commit(reg, location, digest, what)
        except BaseException:  # Ctrl-C and SIGTERM too: the registry's copy is given up
            _cancel(reg, location, what)
            raise
    return True


def _send_body(reg: Registry, location: str, fh: IO[bytes], size: int, what: str,
               progress: Progress, ahead: Lookahead) -> str:
    """The ``PATCH`` requests; they stop early once the blob is known to be there."""
    chunk = size if size <= reg.monolithic_max else reg.chunk_size
    with contextlib.suppress(Present):
        return patch_chunks(reg, location, fh, size, what, progress, chunk, ahead.present,
                            str(ahead.path))
    return location


def _read(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _cancel(reg: Registry, location: str, what: str) -> None:
    """Give up an upload session, asking once (the registry expires it anyway); a refusal
    of any kind is not this push's error."""
    with contextlib.suppress(CloacinaError):
        discard(reg.transport.request("DELETE", location, what=what,
                                      allow=(202, 204, 404, 405), retries=False,
                                      timeout=CANCEL_WAIT))
