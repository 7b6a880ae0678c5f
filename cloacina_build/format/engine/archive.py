"""``open_engine``: read an engine ``.cloacina`` archive (a bzip2 tar of source) once, as a
stream, into a typed :class:`EngineArchive` with every finding of the engine's rules.

Nothing is written anywhere: member data is hashed as it streams past, and only the files
static discovery and the checks need (``package.toml``, ``*.py``, ``*.rs``, ``Cargo.toml``,
``.cloacina-build/manifest.json``) are kept in memory, each and together under a bound.
Content problems are findings; reading stops early (``complete = False``) where the
engine's unpacker stops (a symlink, ``..``, a limit) or the stream cannot be read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO

from ...errors import PackageError, UsageError
from ...findings import Finding, error, has_errors, warning
from ...fsutil import no_such_package
from ...progress import NO_PROGRESS, Progress
from . import rules, tar
from .bzip import ENGINE, FirstStream, sniff
from .manifest import EngineManifest, read_manifest
from .rules import clean, shown_name
from .trailer import SignatureStream, read_signature_stream

if TYPE_CHECKING:
    from ...model import Manifest

BUILD_MANIFEST = ".cloacina-build/manifest.json"   # our manifest inside an engine archive
_KEEP_SUFFIXES = (".py", ".rs")
_KEEP_NAMES = ("package.toml", "Cargo.toml", BUILD_MANIFEST)
_SKIP_DIRS = ("vendor/", "target/")  # read by no check: discovery reads workflow/ and src/


@dataclass(frozen=True)
class EngineMember:
    name: str                 # path in the archive, normalised (no './', no empty parts)
    size: int                 # declared size
    type: str                 # rules.FILE, DIR, DEVICE, FIFO, GLOBAL or OTHER
    mode: int                 # as written (may carry file-type bits: 0o100644)
    sha256: str | None        # of the data (None for directories and PAX globals)


@dataclass(frozen=True)
class Trailing:
    """Bytes after the first bzip2 stream, which the engine never reads (§2.1)."""

    offset: int               # where the first stream ends in the file
    size: int
    kind: str                 # "cloacina-trailer" (signatures, if any), "bzip2-stream"
                              # or "data"


@dataclass(frozen=True)
class EngineArchive:
    path: Path
    file_size: int
    complete: bool                          # the first stream was read to its end
    root: str | None                        # the package root directory (NAME-VERSION)
    package_toml: bytes | None
    manifest: EngineManifest | None         # both views (engine/manifest.py)
    members: tuple[EngineMember, ...]       # in archive order, last one wins per name
    sources: MappingProxyType[str, bytes]   # kept files, by path relative to the root
    too_large: frozenset[str]               # root-relative files seen but not kept
    build_manifest: bytes | None            # NAME-VERSION/.cloacina-build/manifest.json
    trailing: Trailing | None
    findings: tuple[Finding, ...]
    # the second stream, when it is this tool's signature trailer: the records, named
    # ``signatures/<key id>.json`` as in the zstd format; else why it is not one
    signatures: tuple[tuple[str, bytes], ...] = ()
    trailer_problem: str | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(list(self.findings))

    @cached_property
    def built(self) -> tuple[Manifest | None, list[Finding]]:
        """The build manifest, parsed once for every check that reads it (None and no
        findings when the archive has none; None and the parser's findings when it is
        unusable)."""
        if self.build_manifest is None:
            return None, []
        from ...model import Manifest

        return Manifest.parse(self.build_manifest)

    @property
    def language(self) -> str | None:
        return self.manifest.language if self.manifest else None

    def names(self) -> set[str]:
        """Root-relative names of the root's files."""
        prefix = f"{self.root}/"
        return {m.name[len(prefix):] for m in self.members
                if m.type != rules.DIR and m.name.startswith(prefix)}

    def dirs(self) -> rules.Dirs:
        """Root-relative directories (written as entries or implied by a file's path)."""
        return self._dirs

    @cached_property
    def _dirs(self) -> rules.Dirs:  # one sort of the names, however many checks ask
        prefix = f"{self.root}/"
        return rules.Dirs(self.names(), (m.name[len(prefix):] for m in self.members
                                         if m.type == rules.DIR and m.name.startswith(prefix)))


class _Members:
    """The unpacker's running checks over members, whoever supplies them: the reader of
    an archive's bytes (:class:`_Reader`), or the writer describing what it has just
    written (:func:`describe_written`), so that both meet the same rules."""

    def __init__(self, file_size: int, limits: rules.EngineLimits) -> None:
        self.file_size, self.limits = file_size, limits
        self.members: dict[str, EngineMember] = {}
        self.kept: dict[str, bytes] = {}
        self.too_large: set[str] = set()
        self.findings: list[Finding] = []
        self.kept_total = self.count = self.declared = 0
        self.folded: dict[str, str] = {}

    def count_entry(self, size: int) -> None:
        """Before an entry's data is read: the running limits (raises rules.Refused)."""
        self.count += 1
        self.declared += size
        rules.limit_check(self.count, self.declared, self.file_size, self.limits)

    def add_file(self, name: str, size: int, digest: str, load: Callable[[], bytes]) -> None:
        """A regular file the writer wrote (mode 0644); ``load`` gives its bytes, read
        only when a check needs them."""
        self.count_entry(size)
        wanted, scan = self._wanted(name), self._param_scan(name)
        data = load() if wanted or scan is not None else None
        if scan is not None and data is not None:
            scan.feed(data)
            self._scanned(name, scan)
        self._add(name, rules.FILE, 0o644, size, digest, data if wanted else None)

    def _param_scan(self, name: str) -> rules.ParamScan | None:
        """A vendored ``.py`` file is not kept, but its text is searched as it passes: the
        engine's compiler reads declared params from every ``.py`` file (§2.7)."""
        rel = name.split("/", 1)[-1]
        return rules.ParamScan() if rel.startswith("vendor/") and rel.endswith(".py") \
            else None

    def _scanned(self, name: str, scan: rules.ParamScan) -> None:
        if scan.found:
            self.findings.append(rules.stray_params_finding(name.split("/", 1)[-1],
                                                            sorted(scan.found)))

    def _wanted(self, name: str) -> bool:
        rel = name.split("/", 1)[-1]
        if rel.startswith(_SKIP_DIRS):
            return False
        return rel.endswith(_KEEP_SUFFIXES) or rel in _KEEP_NAMES or name == "package.toml"

    def _add(self, name: str, kind: str, mode: int, size: int, digest: str,
             data: bytes | None) -> None:
        self.findings += rules.name_findings(name) + rules.kind_findings(name, kind, mode)
        if kind == rules.GLOBAL or not name:
            return
        if name in self.members:
            self.findings.append(error("engine-member-duplicate", "the member appears more "
                                       "than once: the engine's unpacker overwrites, so the "
                                       "last copy wins (§2.1); cloacina-build refuses it",
                                       name))
        folded = name.casefold()
        if self.folded.setdefault(folded, name) != name:
            self.findings.append(warning("engine-member-case", f"differs from "
                                         f"'{self.folded[folded]}' only by case: one "
                                         "overwrites the other on a case-insensitive disk",
                                         name))
        is_data = kind not in (rules.DIR,)
        self.members[name] = EngineMember(name, size, kind, mode,
                                          digest if is_data else None)
        if data is not None:
            self._keep(name, data)

    def _keep(self, name: str, data: bytes) -> None:
        limit = self.limits.max_manifest if name.endswith(BUILD_MANIFEST) else \
            self.limits.max_package_toml if name.endswith("package.toml") else \
            self.limits.max_kept_file
        if len(data) > limit or self.kept_total + len(data) > self.limits.max_kept_total:
            self.too_large.add(name)
            self.kept.pop(name, None)
            return
        self.kept[name] = data
        self.kept_total += len(data)


class _Reader(_Members):
    """One pass over the members, with the unpacker's running checks."""

    def __init__(self, fh: BinaryIO, file_size: int, limits: rules.EngineLimits,
                 progress: Progress = NO_PROGRESS) -> None:
        super().__init__(file_size, limits)
        self.stream = FirstStream(fh, limits.max_stream, progress)
        self.tar = tar.TarReader(self.stream.read, limits.max_record)

    def run(self) -> bool:
        """Read every member; False when reading stopped early (a finding says why)."""
        try:
            while (header := self.tar.next_header()) is not None:
                self.entry(header)
            self.stream.drain()  # tar-rs ignores what follows the end; measure it
        except rules.Refused as exc:
            self.findings.append(exc.finding)
            return False
        except PackageError as exc:
            self.findings.append(error(exc.code, f"{exc.message} (the engine's unpacker "
                                       "fails too)"))
            return False
        return True

    def entry(self, header: tar.TarHeader) -> None:
        kind = rules.kind_of(header)
        name = rules.member_name(header.path)
        self.count_entry(header.size)
        digest = hashlib.sha256()
        keep = kind == rules.FILE and self._wanted(name)
        scan = self._param_scan(name) if kind == rules.FILE else None
        parts: list[bytes] = []

        def sink(chunk: bytes) -> None:
            digest.update(chunk)
            if keep:
                parts.append(chunk)
            if scan is not None:
                scan.feed(chunk)

        self.tar.data(sink if kind not in (rules.DIR, rules.GLOBAL) else None)
        if scan is not None:
            self._scanned(name, scan)
        self._add(name, kind, header.mode, header.size, digest.hexdigest(),
                  b"".join(parts) if keep else None)

def _check_path(path: Path) -> int:
    if not path.exists():
        raise no_such_package(path)
    if not path.is_file():
        raise UsageError(f"not a file: {path}", hint="pass the path of a .cloacina package")
    return path.stat().st_size


def open_engine(path: Path | str, limits: rules.EngineLimits = rules.DEFAULT_ENGINE_LIMITS,
                progress: Progress = NO_PROGRESS) -> EngineArchive:
    """Read the engine archive at ``path`` once.  Raises only :class:`UsageError` (no such
    file); every problem with the bytes, a non-bzip2 file included, is a finding.  The
    file's size and the bytes read are reported to ``progress``."""
    path = Path(path)
    size = _check_path(path)
    progress.total(size)
    with open(path, "rb") as fh:
        head = fh.read(4)
        if sniff(head) != ENGINE:
            return _empty(path, size, error("engine-not-bzip2", "the file does not start with "
                                            "a bzip2 stream ('BZh1'-'BZh9'): the server's "
                                            "upload refuses it (§2.6) and the unpacker "
                                            "cannot read it (§2.1)"))
        fh.seek(0)
        reader = _Reader(fh, size, limits, progress)
        complete = reader.run()
    return _finish(path, size, reader, complete, limits,
                   lambda root: _trailing(reader.stream, path, root))


def _empty(path: Path, size: int, finding: Finding) -> EngineArchive:
    return EngineArchive(path, size, False, None, None, None, (), MappingProxyType({}),
                         frozenset(), None, None, (finding,))


def _trailing(stream: FirstStream, path: Path, root: str | None
              ) -> tuple[Trailing | None, SignatureStream, list[Finding]]:
    if stream.tail_offset is None or not stream.tail_size:
        return None, SignatureStream(), []
    found = read_signature_stream(path, stream.tail_offset, stream.tail_size, root)
    if found.ours:
        return Trailing(stream.tail_offset, stream.tail_size, "cloacina-trailer"), found, []
    kind = "bzip2-stream" if sniff(stream.tail_head) == ENGINE else "data"
    what = "a second bzip2 stream" if kind == "bzip2-stream" else "data that is not bzip2"
    code = "engine-trailing-stream" if kind == "bzip2-stream" else "engine-trailing-data"
    return Trailing(stream.tail_offset, stream.tail_size, kind), found, [warning(
        code, f"{stream.tail_size} byte(s) of {what} after the first bzip2 stream (at offset "
        f"{stream.tail_offset}): the engine's single-stream BzDecoder never reads them "
        "(§2.1), but they count in the file's size and sha256")]


Tail = Callable[[str | None], tuple[Trailing | None, SignatureStream, list[Finding]]]


def _finish(path: Path, size: int, reader: _Members, complete: bool,
            limits: rules.EngineLimits, tail: Tail) -> EngineArchive:
    findings = reader.findings
    if size > limits.max_upload:
        findings.append(warning("engine-limit-upload", f"the file is {size} bytes: over the "
                                f"server's {limits.max_upload}-byte upload body limit (§2.5)"))
    members = tuple(reader.members.values())
    root, package_toml, manifest = None, None, None
    if complete:
        files = {m.name for m in members if m.type != rules.DIR}
        dirs = {m.name for m in members if m.type == rules.DIR}
        root, found = rules.root_of(files, dirs)
        findings += found + rules.conflict_findings(files, dirs)
    trailing, stream, more = tail(root)
    findings += more
    sources: dict[str, bytes] = {}
    too_large: set[str] = set()
    if root is not None:
        prefix = f"{root}/"
        sources = {k[len(prefix):]: v for k, v in reader.kept.items() if k.startswith(prefix)}
        too_large = {k[len(prefix):] for k in reader.too_large if k.startswith(prefix)}
        package_toml = sources.pop("package.toml", None)
        manifest, found = _manifest(root, package_toml, members)
        findings += found
    build_manifest = sources.pop(BUILD_MANIFEST, None)
    return EngineArchive(path, size, complete, root, package_toml, manifest, members,
                         MappingProxyType(sources), frozenset(too_large), build_manifest,
                         trailing, tuple(clean(findings)), stream.members, stream.problem)


def describe_written(path: Path, files: Iterable[tuple[str, int, str, Callable[[], bytes]]],
                     first_stream_end: int,
                     limits: rules.EngineLimits = rules.DEFAULT_ENGINE_LIMITS
                     ) -> EngineArchive:
    """The archive a writer has just put at ``path``, from what it wrote — each member's
    name, size, sha256 and a way to read its bytes — through the same member checks, root
    rules, manifest views and trailer reading as :func:`open_engine`, without
    decompressing the file again (the writer's tests check that both agree)."""
    size = path.stat().st_size
    members = _Members(size, limits)
    complete = True
    try:
        for name, length, digest, load in files:
            members.add_file(name, length, digest, load)
    except rules.Refused as exc:
        members.findings.append(exc.finding)
        complete = False

    def tail(root: str | None) -> tuple[Trailing | None, SignatureStream, list[Finding]]:
        found = read_signature_stream(path, first_stream_end, size - first_stream_end, root)
        kind = "cloacina-trailer" if found.ours else "bzip2-stream"
        return Trailing(first_stream_end, size - first_stream_end, kind), found, []

    return _finish(path, size, members, complete, limits, tail)


def _manifest(root: str, data: bytes | None, members: tuple[EngineMember, ...]
              ) -> tuple[EngineManifest | None, list[Finding]]:
    if data is None:
        return None, [error("limit-metadata-size", "package.toml is larger than the "
                            "metadata bound", f"{root}/package.toml")]
    stub = EngineArchive(Path(), 0, True, root, None, None, members, MappingProxyType({}),
                         frozenset(), None, None, ())
    manifest, findings = read_manifest(data, stub.names(), stub.dirs())
    if manifest is not None:
        findings += rules.name_version_findings(root, manifest.name, manifest.version)
    return manifest, findings


def describe(archive: EngineArchive) -> dict[str, Any]:
    """The archive's container facts as JSON (what ``inspect --json`` shows)."""
    return {"root": archive.root and shown_name(archive.root), "complete": archive.complete,
            "members": [{"name": shown_name(m.name), "size": m.size, "type": m.type,
                         "sha256": m.sha256} for m in archive.members],
            "trailing": None if archive.trailing is None else {
                "offset": archive.trailing.offset, "size": archive.trailing.size,
                "kind": archive.trailing.kind}}


__all__ = ["BUILD_MANIFEST", "EngineArchive", "EngineMember", "Trailing", "describe",
           "open_engine", "shown_name"]
