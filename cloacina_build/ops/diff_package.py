"""What holds the workflow, compared: the package's metadata, its payload, native facts,
signatures, and the build facts (informational).  Each side is a
:class:`~cloacina_build.ops.describe.Description`; a project directory has no payload,
build or signatures, so those are compared only between two packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..trust.signatures import SignatureVerdict
from .describe import PROJECT, Description
from .diff_fields import Change, SetDiff, changes_dict, field_changes

PACKAGE_FIELDS = ("name", "version", "language", "description", "author", "requires_python")
PAYLOAD_FIELDS = ("kind", "filename", "size", "sha256", "tags")
NATIVE_FIELDS = ("target", "os", "arch", "elf_class", "machine", "endianness", "glibc_floor",
                 "needed", "exported_symbols")
BUILD_FIELDS = ("format", "tool", "tool_version", "python", "backend", "source_revision",
                "source_dirty", "source_date_epoch", "digest", "file_size")


def package_changes(a: Description, b: Description, notes: list[str]) -> tuple[Change, ...]:
    """PackageInfo, field by field.  A project whose version is dynamic (read from the
    built wheel) has none yet: the version is then not compared."""
    fields: tuple[str, ...] = PACKAGE_FIELDS
    if any(d.kind == PROJECT and not d.package.version for d in (a, b)):
        fields = tuple(f for f in fields if f != "version")
        notes.append("version not compared: a project's dynamic version is known only "
                     "once it is built")
    return field_changes(a.package.to_dict(), b.package.to_dict(), fields)


@dataclass(frozen=True, slots=True)
class PayloadDiff:
    """The payloads' head facts (kind, filename, size, sha256, platform tags), or why
    they were not compared (``reason``)."""

    compared: bool
    changes: tuple[Change, ...] = ()
    reason: str | None = None

    def __bool__(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"compared": self.compared, "changes": changes_dict(self.changes)}
        if self.reason:
            out["reason"] = self.reason
        return out


def payload_diff(a: Description, b: Description) -> PayloadDiff:
    if a.payload is None or b.payload is None:
        which = [s for s, d in (("OLD", a), ("NEW", b)) if d.payload is None]
        what = "are project directories" if len(which) == 2 else "is a project directory"
        return PayloadDiff(False, reason=f"{' and '.join(which)} {what} (nothing is built)")
    if a.payload.kind != b.payload.kind:
        return PayloadDiff(False, reason=f"a {a.payload.kind} payload and a "
                                         f"{b.payload.kind} payload (another format) have "
                                         "no size or sha256 in common; --payload compares "
                                         "their files")
    return PayloadDiff(True, field_changes(a.payload.to_dict(), b.payload.to_dict(),
                                           PAYLOAD_FIELDS))


def native_changes(a: Description, b: Description) -> tuple[Change, ...]:
    """The facts read from two native payloads' ELF binaries (both must have them)."""
    if a.native is None or b.native is None:
        return ()
    return field_changes(a.native.to_dict(), b.native.to_dict(), NATIVE_FIELDS)


def _signer(s: SignatureVerdict) -> dict[str, Any]:
    out: dict[str, Any] = {"key_id": s.key_id, "signer": s.signer, "signed_at": s.signed_at}
    if s.detached:
        out["detached"] = True
    if not s.well_formed:
        out["member"] = s.member
    return out


def _identity(s: SignatureVerdict) -> tuple[str, str, bool]:
    """A signature is its key (and whether it is detached); a malformed record, which
    names no key, is its member."""
    return (s.key_id or "", "" if s.well_formed else s.member, s.detached)


def signature_diff(a: Description, b: Description) -> SetDiff | None:
    """Signatures added and removed, by key id; ``None`` when a side is a project."""
    if PROJECT in (a.kind, b.kind):
        return None
    before = {_identity(s): s for s in a.signatures}
    after = {_identity(s): s for s in b.signatures}
    return SetDiff(tuple(_signer(after[k]) for k in sorted(after.keys() - before.keys())),
                   tuple(_signer(before[k]) for k in sorted(before.keys() - after.keys())))


def _build_facts(d: Description) -> dict[str, Any]:
    facts: dict[str, Any] = {"format": d.kind, "digest": d.digest, "file_size": d.file_size}
    if d.build is not None:
        facts.update(d.build.to_dict())
    return facts


def build_changes(a: Description, b: Description) -> tuple[Change, ...]:
    """How the packages were made (tool, Python, backend, source revision, reproducible
    timestamp) and their digests and sizes: informational, never a difference that
    counts, since the same workflow built twice differs only here."""
    if PROJECT in (a.kind, b.kind):
        return ()
    return field_changes(_build_facts(a), _build_facts(b), BUILD_FIELDS)
