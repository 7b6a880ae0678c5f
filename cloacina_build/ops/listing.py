"""``ls``: every member of a package and every file of its payload, without extracting
anything.

:func:`list_package` reads a package of either format in one bounded pass:

- this tool's zstd package: every member hashed as it streams past (so a member's size and
  sha256 are the bytes' own); for a wheel payload, the files RECORD lists, read from the
  wheel's last bytes (``format/wheel_index``) and joined with the zip's central directory;
  for a native payload, the shared library itself, with the manifest's ELF facts;
- the engine's bzip2 source archive (``ops/listing_engine``): the members ``open_engine``
  hashed, root-relative, and the source files as the payload.

A wheel's files are listed as RECORD gives them — the sizes and sha256 an installer checks
— and *not* verified here: ``cloacinactl validate`` decompresses the wheel and checks
every hash.  A file whose line is unusual carries a ``note`` (no hash in RECORD, not in
RECORD, not in the wheel, a size that differs from the zip's).  Problems that stop the
reading are findings (``complete`` is then False); a package whose head cannot be read is
a :class:`PackageError`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import PackageError
from ..findings import Finding, error
from ..format import manifest as mf
from ..format.archive import Member
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import read_head, read_manifest, stream_members
from ..format.wheel_index import (
    SIGNATURE_FILES,
    Needed,
    RecordRow,
    Tail,
    WheelIndex,
    capture,
    read_index,
)
from ..model import Manifest, PayloadKind
from ..progress import NO_PROGRESS, Progress
from .listed import (
    CLOACINA,
    ENGINE,
    NO_HASH,
    NOT_IN_RECORD,
    NOT_IN_WHEEL,
    SIGNATURE,
    SIGNATURE_MEMBER,
    SIZE_DIFFERS,
    ListedMember,
    Listing,
    PayloadFile,
)


def list_package(path: Path | str, limits: Limits = DEFAULT_LIMITS, *,
                 progress: Progress = NO_PROGRESS,
                 step: str = "reading the package") -> Listing:
    """Every member of the package at ``path`` (either format) and every file of its
    payload.  Raises :class:`UsageError` for a missing file and :class:`PackageError` for
    a file that is no package or whose head cannot be read; later problems are findings.
    ``progress`` hears one step (named ``step``) and the bytes of the file read."""
    from ..format.engine.bzip import ENGINE as BZIP2
    from ..format.engine.bzip import detect_format

    path = Path(path)
    progress.phase(step)
    if path.is_file() and detect_format(path) == BZIP2:
        from .listing_engine import list_engine

        return list_engine(path, progress=progress)
    return _list_cloacina(path, limits, progress)


class _Pass:
    """The members of one streaming pass, the payload's tail kept when it is a wheel."""

    def __init__(self, manifest: Manifest, limits: Limits) -> None:
        self.manifest = manifest
        self.members: list[ListedMember] = []
        self.findings: list[Finding] = []
        self.complete = True
        wheel = manifest.payload.kind is PayloadKind.WHEEL
        self.tail: Tail | None = Tail(limits.max_wheel_index) if wheel else None
        self.payload: ListedMember | None = None

    def add(self, name: str, data: bytes) -> None:
        self.members.append(ListedMember(name, len(data), hashlib.sha256(data).hexdigest()))

    def member(self, member: Member) -> None:
        is_payload = member.name == self.manifest.payload.path and self.payload is None
        feed = self.tail.feed if is_payload and self.tail is not None else None
        h, size = hashlib.sha256(), 0
        for chunk in member.chunks():
            h.update(chunk)
            size += len(chunk)
            if feed is not None:
                feed(chunk)
        kind = SIGNATURE_MEMBER if member.name.startswith(mf.SIGNATURE_DIR) else "file"
        listed = ListedMember(member.name, size, h.hexdigest(), kind)
        self.members.append(listed)
        if is_payload:
            self.payload = listed

    def stop(self, exc: PackageError) -> None:
        self.findings.append(error(exc.code, exc.message))
        self.complete = False

    def digest_findings(self) -> list[Finding]:
        """The members the manifest records (package.toml, the payload) against their
        bytes: a listing of a wheel that is not the one the manifest describes says so."""
        seen = {m.path: m for m in self.members}
        out = []
        for listed in self.manifest.members:
            found = seen.get(listed.path)
            if found is None:
                if self.complete:
                    out.append(error("member-missing", f"{listed.path} is listed in the "
                                     "manifest but not in the archive", listed.path))
            elif (found.size, found.sha256) != (listed.size, listed.sha256):
                out.append(error("digest-mismatch", f"{listed.path} differs from the "
                                 "sha256 the manifest records for it", listed.path))
        return out


def _list_cloacina(path: Path, limits: Limits, progress: Progress) -> Listing:
    with stream_members(path, limits, hash_raw=False, progress=progress) as stream:
        toml, manifest_bytes = read_head(stream, limits)
        manifest = read_manifest(manifest_bytes, path)
        state = _Pass(manifest, limits)
        state.add(mf.PACKAGE_TOML, toml)
        state.add(mf.MANIFEST, manifest_bytes)
        try:
            for member in stream:
                state.member(member)
        except PackageError as exc:
            state.stop(exc)
    findings = state.digest_findings()
    files: tuple[PayloadFile, ...] = ()
    record, complete = None, state.complete and state.payload is not None
    if manifest.payload.kind is PayloadKind.NATIVE and state.payload is not None:
        files = (PayloadFile(manifest.payload.filename, state.payload.size,
                             state.payload.sha256),)
    elif state.tail is not None and state.payload is not None:
        index = _wheel_index(path, state, limits, progress)
        files, record = wheel_files(index), index.record_path
        findings += index.findings
        if index.record_path is not None:
            findings += disagreement(files, manifest.payload.path)
        complete = complete and index.complete
    return Listing(str(path), CLOACINA, tuple(state.members), files, manifest.payload,
                   manifest.native, None, record, complete,
                   tuple(state.findings + findings))


def _wheel_index(path: Path, state: _Pass, limits: Limits, progress: Progress
                 ) -> WheelIndex:
    """The wheel's index from the kept tail; when RECORD lies before the tail, the package
    is streamed once more to fetch exactly RECORD's bytes."""
    assert state.tail is not None
    where = state.manifest.payload.path
    window = state.tail.window(state.manifest.payload.filename)
    found = read_index(window, limits, where)
    if isinstance(found, Needed):
        try:
            progress.phase("reading the package again for RECORD")
            data = _fetch(path, where, found, limits, progress)
        except PackageError as exc:
            return WheelIndex(findings=(error(exc.code, exc.message, where),))
        found = read_index(window.with_piece(found.start, data), limits, where)
    if isinstance(found, Needed):  # the fetched range did not hold it after all
        return WheelIndex(findings=(error("wheel-bad-zip", "RECORD is not where the "
                                          "wheel's directory says", where),))
    return found


def _fetch(path: Path, name: str, needed: Needed, limits: Limits, progress: Progress
           ) -> bytes:
    with stream_members(path, limits, hash_raw=False, progress=progress) as stream:
        for member in stream:
            if member.name == name:
                return capture(member.chunks(), needed.start, needed.end)
    raise PackageError(f"{name} was not found when the package was read again",
                       code="member-missing")


def wheel_files(index: WheelIndex) -> tuple[PayloadFile, ...]:
    """RECORD's rows joined with the zip's entries, sorted by path: a file in RECORD has
    RECORD's size and sha256; one only in the zip has the zip's size and no sha256."""
    declared = {e.name: e.size for e in index.entries}
    rows = {r.path: r for r in index.rows}
    dist_info = (index.record_path or "").split("/", 1)[0]
    out = []
    for name in sorted(set(declared) | set(rows)):
        row, zip_size = rows.get(name), declared.get(name)
        if row is None:
            signature = name.rsplit("/", 1)[-1] in SIGNATURE_FILES and \
                name.split("/", 1)[0] == dist_info
            out.append(PayloadFile(name, zip_size, None,
                                   SIGNATURE if signature else NOT_IN_RECORD, zip_size))
        else:
            out.append(PayloadFile(name, row.size, row.sha256, _note(row, zip_size),
                                   zip_size))
    return tuple(out)


def disagreement(files: tuple[PayloadFile, ...], where: str) -> list[Finding]:
    """One finding when RECORD and the zip's directory disagree (the notes say where)."""
    odd = [f for f in files if f.note in (NOT_IN_RECORD, NOT_IN_WHEEL, SIZE_DIFFERS)]
    if not odd:
        return []
    return [error("wheel-record", f"RECORD and the wheel's directory disagree on "
                  f"{len(odd)} file(s), first {odd[0].path!r} ({odd[0].note})", where)]


def _note(row: RecordRow, zip_size: int | None) -> str | None:
    if zip_size is None:
        return NOT_IN_WHEEL
    if row.size is not None and row.size != zip_size:
        return SIZE_DIFFERS
    return NO_HASH if row.sha256 is None else None


__all__ = ["CLOACINA", "ENGINE", "NOT_IN_RECORD", "NOT_IN_WHEEL", "NO_HASH", "SIGNATURE",
           "SIGNATURE_MEMBER", "SIZE_DIFFERS", "ListedMember", "Listing", "PayloadFile",
           "list_package", "wheel_files"]
