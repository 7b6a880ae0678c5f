"""``extract_root``: write the files under an engine archive's package root to a directory.

For ``convert`` only, after :func:`~cloacina_build.ops.engine.validate_engine` found no
error (one root, no links, no ``..``, the unpack limits).  It still trusts nothing: the
stream is read with the same bounds as :func:`open_engine`, names are the engine's
(:func:`rules.member_name`), anything but a regular file under the root is skipped, a name
cloacina-build refuses stops it, and every file is created new (``x`` mode) under
``dest`` with mode 0644.  Raises only :class:`PackageError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import PackageError
from . import rules, tar
from .bzip import FirstStream


def extract_root(path: Path, root: str, dest: Path,
                 limits: rules.EngineLimits = rules.DEFAULT_ENGINE_LIMITS,
                 skip: tuple[str, ...] = ()) -> list[str]:
    """The regular files under ``root/`` (but those starting with a prefix in ``skip``)
    written under ``dest``; returns their root-relative names, in archive order."""
    prefix, written, count = f"{root}/", [], 0
    with open(path, "rb") as fh:
        reader = tar.TarReader(FirstStream(fh, limits.max_stream).read, limits.max_record)
        try:
            while (header := reader.next_header()) is not None:
                count += 1
                rules.limit_check(count, 0, 1, limits)
                rel = _wanted(header, prefix, skip)
                if rel is None:
                    reader.data(None)
                    continue
                _write(reader, dest, rel)
                written.append(rel)
        except rules.Refused as exc:
            raise PackageError(f"cannot unpack the archive: {exc.finding.message}",
                               code=exc.finding.code) from None
    return written


def _wanted(header: tar.TarHeader, prefix: str, skip: tuple[str, ...]) -> str | None:
    if rules.kind_of(header) != rules.FILE:
        return None
    name = rules.member_name(header.path)
    if not name.startswith(prefix) or name[len(prefix):].startswith(skip):
        return None
    problems = rules.name_findings(name)
    if problems:
        raise PackageError(f"cannot unpack {rules.shown_name(name)}: {problems[0].message}",
                           code=problems[0].code)
    return name[len(prefix):]


def _write(reader: tar.TarReader, dest: Path, rel: str) -> None:
    target = dest.joinpath(*rel.split("/"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a file where a directory must go: the archive holds both names
        raise PackageError(f"{rules.shown_name(rel)} lies under a path that is also a file "
                           "in the archive", code="engine-member-conflict") from None
    if not target.resolve().is_relative_to(dest.resolve()):
        raise PackageError(f"{rules.shown_name(rel)} would be written outside the directory",
                           code="engine-path-parent")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise PackageError(f"{rules.shown_name(rel)} appears twice in the archive",
                           code="engine-member-duplicate") from None
    except OSError:  # e.g. a directory already made at this name for another member
        raise PackageError(f"{rules.shown_name(rel)} is both a file and a directory in the "
                           "archive", code="engine-member-conflict") from None
    with os.fdopen(fd, "wb") as out:
        def sink(chunk: bytes) -> None:
            out.write(chunk)

        reader.data(sink)
