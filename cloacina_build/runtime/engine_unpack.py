"""Unpack a validated engine archive's ``workflow/`` and ``vendor/`` trees into a cache
entry, and the key its entry is stored under.

:func:`unpack_source` reads the archive's first bzip2 stream once more (the validating pass
wrote nothing) and writes only regular files under ``NAME-VERSION/workflow/`` and
``NAME-VERSION/vendor/``, each one a member the validated archive listed with the same size
and sha256: a file that changed between the two passes is refused, never cached.  It is
bounded by the engine's unpack limits, writes only below its destination (a fresh private
directory inside the cache), with modes 0644 (files) and 0755 (directories), creates no
link and follows none (``O_NOFOLLOW``, ``O_EXCL``).
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from ..errors import PackageError
from ..format.engine import rules, tar
from ..format.engine.archive import BUILD_MANIFEST, EngineArchive
from ..format.engine.bzip import ENGINE, FirstStream, sniff
from ..fsutil import file_sha256

TREES = ("workflow", "vendor")
KEY_PREFIX = "engine-"
_NAME_ERRORS = (errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL,
                errno.EILSEQ, errno.ELOOP)


def engine_key(path: Path, limits: rules.EngineLimits) -> str:
    """The cache key of an engine archive: ``engine-m-`` and the sha256 of
    ``NAME-VERSION/.cloacina-build/manifest.json`` when it is the second member, right after
    ``NAME-VERSION/package.toml`` (where ``package --format engine`` writes it; the manifest
    lists the size and sha256 of every file, so it names the content), else ``engine-f-``
    and the sha256 of the whole file.  Reads at most two members, or the file once."""
    with open(path, "rb") as fh:
        if sniff(fh.read(4)) == ENGINE:
            fh.seek(0)
            found = _manifest_digest(fh, limits)
            if found is not None:
                return f"{KEY_PREFIX}m-{found}"
    return f"{KEY_PREFIX}f-{file_sha256(path)}"


def _manifest_digest(fh, limits: rules.EngineLimits) -> str | None:
    reader = tar.TarReader(FirstStream(fh, limits.max_stream).read, limits.max_record)
    try:
        first = reader.next_header()
        if first is None or rules.kind_of(first) != rules.FILE:
            return None
        root, _, rest = rules.member_name(first.path).partition("/")
        second = reader.next_header()
        if rest != "package.toml" or second is None or rules.kind_of(second) != rules.FILE \
                or rules.member_name(second.path) != f"{root}/{BUILD_MANIFEST}" \
                or second.size > limits.max_manifest:
            return None
        digest = hashlib.sha256()
        reader.data(digest.update)
        return digest.hexdigest()
    except (PackageError, rules.Refused):
        return None  # the validating pass reports it


def key_matches(key: str, archive: EngineArchive) -> bool:
    """Whether the validated archive is the one ``key`` was computed from (for a
    manifest key; a whole-file key is guarded by the file's identity)."""
    if not key.startswith(f"{KEY_PREFIX}m-"):
        return archive.build_manifest is None or not _manifest_second(archive)
    return archive.build_manifest is not None and \
        hashlib.sha256(archive.build_manifest).hexdigest() == key[len(KEY_PREFIX) + 2:]


def _manifest_second(archive: EngineArchive) -> bool:
    names = [m.name for m in archive.members[:2]]
    return names == [f"{archive.root}/package.toml", f"{archive.root}/{BUILD_MANIFEST}"]


def _refused(path: Path, why: str) -> PackageError:
    return PackageError(f"{path} cannot be loaded: {why}; nothing was cached",
                        code="load-refused",
                        hint="run 'cloacinactl validate' on the file; if it changed while "
                             "it was being loaded, load it again")


def unpack_source(path: Path, dest: Path, archive: EngineArchive,
                  limits: rules.EngineLimits) -> int:
    """Write the validated ``archive``'s ``workflow/`` and ``vendor/`` files (read again
    from ``path``) below ``dest``; the number of files written."""
    prefix = f"{archive.root}/"
    expected = {m.name: m for m in archive.members if m.type == rules.FILE
                and m.name.startswith(prefix)
                and m.name[len(prefix):].split("/", 1)[0] in TREES}
    written: set[str] = set()
    with open(path, "rb") as fh:
        reader = tar.TarReader(FirstStream(fh, limits.max_stream).read, limits.max_record)
        count = declared = 0
        try:
            while (header := reader.next_header()) is not None:
                count, declared = count + 1, declared + header.size
                rules.limit_check(count, declared, archive.file_size, limits)
                name = rules.member_name(header.path)
                member = expected.get(name) if rules.kind_of(header) == rules.FILE else None
                if member is None:
                    reader.data(None)
                    continue
                if member.size != header.size or name in written or \
                        _write(dest, name[len(prefix):], reader) != member.sha256:
                    raise _refused(path, f"{rules.shown_name(name)} is not the file that "
                                   "was validated")
                written.add(name)
        except rules.Refused as exc:
            raise _refused(path, exc.finding.message) from None
        except PackageError as exc:  # the tar or bzip2 reader's own
            if exc.code == "load-refused":
                raise
            raise _refused(path, exc.message) from None
    if written != set(expected):
        raise _refused(path, "members that were validated are missing")
    return len(written)


def _write(dest: Path, rel: str, reader: tar.TarReader) -> str:
    """One member's data into ``dest/rel`` (a new file, mode 0644); its sha256."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise PackageError(f"unsafe member name {rules.shown_name(rel)!r}", code="load-refused")
    digest = hashlib.sha256()
    try:
        parent = dest
        for part in parts[:-1]:
            parent = parent / part
            if not parent.is_dir() or parent.is_symlink():
                os.mkdir(parent, 0o755)
                os.chmod(parent, 0o755, follow_symlinks=False)
        fd = os.open(parent / parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        if exc.errno not in _NAME_ERRORS:
            raise
        raise PackageError(f"{rules.shown_name(rel)} cannot be unpacked: "
                           f"{(exc.strerror or 'refused').lower()} (a member whose path "
                           "collides with another's)", code="load-refused") from None
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o644)

        def sink(chunk: bytes) -> None:
            digest.update(chunk)
            out.write(chunk)

        reader.data(sink)
    return digest.hexdigest()
