"""The loader's content-addressed cache: one directory per verified manifest digest.

An entry is made in a private temporary directory inside the cache and renamed into place,
so readers never see half an entry; a lock per digest lets several processes load the same
package at once.  ``entry.json`` records the digests the entry was verified against and the
sha256 of every file it holds, so a warm load can prove the entry is intact (a tampered
entry is detected and rebuilt), and the identity of the package files it was verified from
(``sources``: device, inode, size, mtime and ctime in nanoseconds), so a warm load serves
only a file that is, by those marks, one that was verified.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PackageError, UsageError
from ..findings import error, has_errors
from ..fsutil import exclusive_lock
from ..fsutil import file_sha256 as _hash

ENTRY_FILE = "entry.json"
ENTRY_VERSION = 1
MAX_SOURCES = 16  # identities of verified files kept per entry (the newest)


@dataclass(frozen=True)
class Entry:
    path: Path
    meta: dict[str, Any]

    @property
    def site(self) -> Path:
        return self.path / "site"

    @property
    def roots(self) -> list[Path]:
        """Where the package's modules are imported from: the installed wheel's ``site``,
        or, for an engine archive, ``workflow`` then ``vendor`` (when it has one)."""
        if self.meta.get("layout") != "engine":
            return [self.site]
        vendor = self.path / "vendor"
        return [self.path / "workflow"] + ([vendor] if vendor.is_dir() else [])


def knows(entry: Entry, identity: dict[str, int] | None) -> bool:
    """Whether ``identity`` is that of a file this entry was verified from."""
    sources = entry.meta.get("sources")
    return identity is not None and isinstance(sources, list) and identity in sources


def sources_with(entry: Entry | None, identity: dict[str, int] | None) -> list[dict]:
    """An intact entry's verified-file identities plus ``identity`` (the newest kept)."""
    old = entry.meta.get("sources") if entry is not None else None
    out = [s for s in old if isinstance(s, dict) and s != identity] \
        if isinstance(old, list) else []
    if identity is not None:
        out.append(identity)
    return out[-MAX_SOURCES:]


def is_cache_error(cache_dir: Path, exc: OSError) -> bool:
    """Whether ``exc`` is about the cache (a path in it, or a full or read-only disk while
    an entry is written), not about the package file."""
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    if not names:
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
    root = os.path.abspath(cache_dir)
    return any(os.path.abspath(n) == root or os.path.abspath(n).startswith(root + os.sep)
               for n in names)


def unusable(cache_dir: Path, exc: OSError) -> UsageError:
    """The error for a cache that cannot be written: it names the cache directory, never
    the private directory an entry was being made in."""
    reason = (exc.strerror or type(exc).__name__).lower()
    return UsageError(f"cannot use the package cache {cache_dir}: {reason}",
                      code="cache-unusable",
                      hint="pass cache_dir, or set CLOACINA_CACHE_DIR, to a directory you "
                           "can write to (with free space)")


def locked(cache_dir: Path, digest: str):
    """The per-digest lock every loader takes before it reads or builds an entry."""
    return exclusive_lock(cache_dir / f".{digest}.lock")


def _tree(root: Path) -> tuple[dict[str, Path], set[str], list[str]]:
    """Files, directories and symbolic links (files or directories) below ``root``."""
    files: dict[str, Path] = {}
    dirs: set[str] = set()
    links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                links.append(path.relative_to(root).as_posix())
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        for name in dirnames:
            dirs.add((Path(dirpath) / name).relative_to(root).as_posix())
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                files[path.relative_to(root).as_posix()] = path
    return files, dirs, links



def check_entry(cache_dir: Path, digest: str) -> tuple[Entry | None, str | None]:
    """The entry if it is intact; else (None, why) (why is None when there is none)."""
    path = cache_dir / digest
    if not path.is_dir():
        return None, None
    try:
        meta = json.loads((path / ENTRY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None, "its entry.json is missing or unreadable"
    if not isinstance(meta, dict) or meta.get("version") != ENTRY_VERSION or \
            meta.get("digest") != digest or not isinstance(meta.get("files"), dict) or \
            not isinstance(meta.get("dirs"), list):
        return None, "its entry.json does not describe this package"
    recorded: dict[str, str] = meta["files"]
    present, dirs, links = _tree(path)
    present.pop(ENTRY_FILE, None)
    if links:
        return None, f"{links[0]} is a symbolic link"
    if dirs != set(meta["dirs"]):
        return None, "directories were added or removed"
    if set(present) != set(recorded):
        extra = sorted(set(present) - set(recorded))[:1]
        missing = sorted(set(recorded) - set(present))[:1]
        return None, f"files were {'added: ' + extra[0] if extra else 'removed: ' + missing[0]}"
    for rel, sha in recorded.items():
        if _hash(present[rel]) != sha:
            return None, f"{rel} was modified"
    return Entry(path, meta), None


def _check_installable(wheel: Path) -> None:
    """What validate checked, once more before installing: a wheel the installer cannot
    take must be refused here, never hang it (a file named like the .data directory makes
    installer loop forever)."""
    from ..format.wheel import ZIP_ERRORS
    from ..format.wheel_install import install_findings

    try:
        with zipfile.ZipFile(wheel) as zf:
            found = install_findings(zf, wheel.name)
    except ZIP_ERRORS as exc:
        found = [error("wheel-bad-zip", f"the payload is not a readable wheel: {exc}")]
    if has_errors(found):
        raise PackageError(f"the wheel {wheel.name} cannot be installed", code="load-install",
                           findings=found)


def build_entry(cache_dir: Path, digest: str, *, wheel: Path, package_toml: bytes,
                manifest: bytes, meta: dict[str, Any]) -> Entry:
    """Install the verified wheel into a fresh entry and move it into place (call locked)."""
    _check_installable(wheel)
    return make_entry(cache_dir, digest, lambda tmp: _install(tmp, wheel),
                      {"package.toml": package_toml, "manifest.json": manifest}, meta)


def _install(tmp: Path, wheel: Path) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    site = tmp / "site"
    scheme = {"purelib": site, "platlib": site, "headers": tmp / "include",
              "scripts": tmp / "bin", "data": tmp / "data"}
    destination = SchemeDictionaryDestination(
        {k: str(v) for k, v in scheme.items()}, interpreter=sys.executable,
        script_kind="posix", bytecode_optimization_levels=())
    try:
        with WheelFile.open(wheel) as source:
            install(source, destination, additional_metadata={})
    except Exception as exc:  # installer raises its own types, ValueError, OSError...
        raise PackageError(f"the wheel {wheel.name} could not be installed: "
                           f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                           code="load-install",
                           hint="validate checks what the install step needs; report "
                           "a package that validates but does not install") from None


def make_entry(cache_dir: Path, digest: str, fill: Callable[[Path], None],
               files: dict[str, bytes], meta: dict[str, Any]) -> Entry:
    """A fresh entry: ``files`` written and ``fill(tmp)`` run in a private temporary
    directory inside the cache, every file hashed into ``entry.json``, then renamed into
    place (call locked).  Nothing is left behind if anything fails."""
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        fill(tmp)
        present, dirs, _links = _tree(tmp)
        hashes = {rel: _hash(p) for rel, p in present.items()}
        record = {**meta, "version": ENTRY_VERSION, "digest": digest, "files": hashes,
                  "dirs": sorted(dirs)}
        (tmp / ENTRY_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
        final = cache_dir / digest
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=cache_dir))
            os.replace(final, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Entry(final, record)
