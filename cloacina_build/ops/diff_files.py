"""``diff --payload``: the payloads compared file by file, from ``ls``'s listing
(:func:`~cloacina_build.ops.listing.list_package`: a wheel's files as its RECORD gives
them, an engine archive's source files, a native payload's library), read without
extracting anything.  This reads both packages whole, once; without ``--payload`` diff
reads only their heads.

Files are matched by path, a wheel's ``NAME-VERSION.dist-info/`` directory taken as one
whatever its version; a file listed without a sha256 (RECORD itself) is compared by its
size alone.  Between a wheel and an engine archive's source (a package and an engine
archive of the same project) the paths are made comparable first: the wheel's importable
files (its ``.dist-info`` left out) against the source's ``workflow/`` and ``vendor/``
with that prefix taken off, which is where the builder puts them in the wheel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import CloacinaError, UsageError
from ..progress import NO_PROGRESS, Progress
from .listed import ENGINE, Listing, PayloadFile

SOURCE_DIRS = ("workflow/", "vendor/")


@dataclass(frozen=True, slots=True)
class FilesDiff:
    added: tuple[PayloadFile, ...]
    removed: tuple[PayloadFile, ...]
    changed: tuple[tuple[PayloadFile, PayloadFile], ...]   # (old, new), by path
    unchanged: int
    basis: str          # "paths", or "importable files" across a wheel and a source tree

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, "unchanged": self.unchanged,
                "added": [_file(f) for f in self.added],
                "removed": [_file(f) for f in self.removed],
                "changed": [{"path": new.path, "old": _file(old), "new": _file(new)}
                            for old, new in self.changed]}


def _file(f: PayloadFile) -> dict[str, Any]:
    return {"path": f.path, "size": f.shown_size, "sha256": f.sha256}


def listed(path: str, side: str, progress: Progress = NO_PROGRESS) -> Listing:
    """The package's listing; a package that cannot be listed whole is an error (exit 2,
    as any input diff cannot read), since a partial listing would report files as gone.
    ``progress`` hears the step ``reading SIDE`` and its bytes."""
    from .listing import list_package

    try:
        listing = list_package(path, progress=progress, step=f"reading {side}")
    except CloacinaError as exc:
        raise UsageError(f"cannot list {side}'s payload: {exc.message}", code=exc.code,
                         hint=exc.hint) from exc
    if not listing.ok:
        first = next((f.render() for f in listing.findings), "the listing is incomplete")
        raise UsageError(f"cannot list {side}'s payload: {first}",
                         code=listing.findings[0].code if listing.findings else "usage",
                         hint="'cloacinactl validate' says what is wrong with it")
    return listing


def _importable(listing: Listing) -> Iterable[tuple[str, PayloadFile]]:
    for f in listing.payload_files:
        if listing.format == ENGINE:
            for prefix in SOURCE_DIRS:
                if f.path.startswith(prefix):
                    yield f.path[len(prefix):], f
        elif not f.path.split("/", 1)[0].endswith(".dist-info"):
            yield f.path, f


def _versionless(path: str) -> str:
    """A wheel's ``NAME-VERSION.dist-info/`` (and ``.data/``) without its name and
    version, so that a new version's METADATA is the same file changed, not one removed
    and one added."""
    top, sep, rest = path.partition("/")
    for suffix in (".dist-info", ".data"):
        if sep and top.endswith(suffix):
            return f"*{suffix}/{rest}"
    return path


def diff_files(old: Listing, new: Listing, *, across_formats: bool = False) -> FilesDiff:
    """The payload files of two listings: added, removed and changed (size or sha256)."""
    if across_formats:
        before, after = dict(_importable(old)), dict(_importable(new))
    else:
        before = {_versionless(f.path): f for f in old.payload_files}
        after = {_versionless(f.path): f for f in new.payload_files}
    changed, unchanged = [], 0
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        if (a.shown_size, a.sha256) != (b.shown_size, b.sha256):
            changed.append((a, b))
        else:
            unchanged += 1
    return FilesDiff(added=tuple(after[k] for k in sorted(after.keys() - before.keys())),
                     removed=tuple(before[k] for k in sorted(before.keys() - after.keys())),
                     changed=tuple(changed), unchanged=unchanged,
                     basis="importable files" if across_formats else "paths")
