"""Small file-system helpers shared by the builder, the cache and the trust state."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import UsageError

CHUNK = 1 << 20
WRITE_BEHIND = 16 << 20  # bytes a file may grow by before its data is pushed to disk


def default_cache_dir() -> Path:
    """The package cache: ``CLOACINA_CACHE_DIR``, else ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/cloacina/packages``.  The loader keeps its entries there and the
    ``oci://`` resolver its downloads, under ``oci/``."""
    env = os.environ.get("CLOACINA_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloacina" / "packages"


def file_identity(path: Path | str) -> dict[str, int] | None:
    """What says a file is still the one that was read: device, inode, size, mtime and
    ctime (ns).  An in-place write, a copy, a rename over it or ``os.utime`` changes the
    ctime, which no system call can set back.  None when the file cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def file_sha256(path: Path | str) -> str:
    """sha256 hex of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an ``fcntl`` lock on ``lock_path`` (created if needed) for the block."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@contextlib.contextmanager
def atomic_output(path: Path, check: Callable[[Path], None] | None = None
                  ) -> Iterator[BinaryIO]:
    """A temporary file beside ``path``, renamed onto it only when the block succeeds
    (and ``check``, given the complete temporary file, returns: it raises to refuse it).

    When the file cannot be made, written or renamed into place, a ``UsageError``
    (``output-unwritable``) names ``path`` with a hint; never the temporary file, which is
    removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh, durable(fh, tmp):
            yield fh
        if check is not None:
            check(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and (tmp in (exc.filename, exc.filename2) or
                                         exc.errno in _WRITE_ERRNOS):
            raise unwritable(path, exc) from None
        raise


@contextlib.contextmanager
def durable(fh: BinaryIO, name: Path | str | None = None) -> Iterator[None]:
    """Make what the block writes to ``fh`` durable: when the block ends, flush and
    ``fsync`` the file.  Meanwhile a second thread pushes the file's data to disk each
    time it has grown by :data:`WRITE_BEHIND` bytes (``fdatasync`` lets go of the GIL),
    so the disk writes while the block still reads or computes, and the closing
    ``fsync`` waits only for the tail, not for a whole large file.  A failed flush
    (``EIO``, ``ENOSPC``) is raised when the block ends, naming ``name`` (the file)."""
    behind = _WriteBehind(fh.fileno())
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):  # the block's own error is the one to report
            behind.stop()
        raise
    try:
        behind.stop()
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        if exc.filename is None and name is not None:
            exc.filename = str(name)
        raise


class _WriteBehind(threading.Thread):
    """The thread of :func:`durable`: it looks at the file's size every 5 ms, and syncs
    the file's data whenever it has grown by ``WRITE_BEHIND`` bytes since the last sync
    (at once again after a sync, while the writer keeps ahead)."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="write-behind", daemon=True)
        self.fd = fd
        self.error: OSError | None = None
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        synced = 0
        sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
        while not self.stopped.is_set():
            try:
                size = os.fstat(self.fd).st_size
                if size - synced >= WRITE_BEHIND:
                    sync(self.fd)  # then look again at once: keep the disk busy
                    synced = size
                    continue
                synced = min(synced, size)  # truncated: a transfer started again
            except OSError as exc:
                self.error = exc
                return
            self.stopped.wait(0.005)

    def stop(self) -> None:
        """End the thread; raise the error its last sync met, if any."""
        self.stopped.set()
        self.join()
        if self.error is not None:
            raise self.error


def write_output(path: Path | str, data: bytes, *, source: Path | str | None = None) -> int:
    """Write ``data`` to ``path`` atomically (:func:`atomic_output`) and return its size.
    ``source`` is what the output was made from: when ``path`` is that very file (by
    name, a link or a hard link) nothing is written and a ``UsageError`` (exit 2) says so,
    since the output would replace its own input."""
    path = Path(path)
    if source is not None and same_file(path, Path(source)):
        raise UsageError(f"{path} is the input itself ({source}): writing there would "
                         "replace it", code="output-is-input",
                         hint="write the output to another file")
    with atomic_output(path) as fh:
        fh.write(data)
    return len(data)


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` both exist and are one file."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # a missing file; a name with a NUL byte
        return False


def unwritable(path: Path, exc: OSError) -> UsageError:
    """The error for an output that cannot be written, naming the user's ``path``."""
    parent = path.parent
    hints = {
        errno.EACCES: f"you may not write to {parent}; choose another place or change "
                      "its permissions",
        errno.EROFS: f"{parent} is on a read-only file system; choose another place",
        errno.ENOSPC: "the disk is full; free some space and run the command again",
        errno.EDQUOT: "your disk quota is used up; free some space and run the command "
                      "again",
        errno.EISDIR: f"{path} is a directory; name a file, or a directory ending in /",
    }
    hints[errno.EPERM] = hints[errno.EACCES]
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return UsageError(f"cannot write {path}: a file is in the way of its directory "
                          f"{parent}", code="output-unwritable",
                          hint="choose another place, or move that file")
    reason = exc.strerror or type(exc).__name__
    return UsageError(f"cannot write {path}: {reason.lower()}", code="output-unwritable",
                      hint=hints.get(exc.errno or 0, f"check that {parent} exists and "
                                                      "can be written to"))


# HOST[:PORT]/REPO[:TAG|@DIGEST] where HOST has a dot or a port, or is localhost: what a
# registry reference looks like without its oci:// (docker's rule for a registry host)
_REGISTRY_LIKE = re.compile(r"(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+|[a-z0-9.-]+:\d+)"
                            r"(?::\d+)?/[a-z0-9._/-]+(?::[\w.-]+|@sha256:[0-9a-f]{64})?")


def no_such_package(path: Path | str) -> UsageError:
    """The error for a package file that is not there; a name that looks like a registry
    reference without its ``oci://`` is told how to write one."""
    text = str(path)
    hint = "pass the path of a .cloacina package"
    if _REGISTRY_LIKE.fullmatch(text) and not text.endswith(".cloacina"):
        hint = f"to use a package in a registry, write oci://{text}"
    return UsageError(f"no such file: {text}", hint=hint)
