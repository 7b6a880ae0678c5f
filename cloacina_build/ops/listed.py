"""The typed result of ``ls`` (:mod:`cloacina_build.ops.listing`): a package's members
and its payload's files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..findings import Finding, has_errors
from ..model import NativeFacts, Payload

CLOACINA, ENGINE = "cloacina", "engine"
SIGNATURE_MEMBER = "signature"   # a member's type: an embedded signature record

# A payload file's note: why its line is not a plain RECORD line.
NO_HASH = "no-hash"              # RECORD lists it without a hash (RECORD itself)
NOT_IN_RECORD = "not-in-record"  # in the wheel, not in RECORD
SIGNATURE = "signature"          # RECORD.jws / RECORD.p7s: in the wheel, never in RECORD
NOT_IN_WHEEL = "not-in-wheel"    # RECORD lists it, the wheel does not hold it
SIZE_DIFFERS = "size-differs"    # RECORD's size is not the one the zip declares


@dataclass(frozen=True)
class ListedMember:
    """A member of the package file: its size and sha256 counted from its bytes."""

    path: str
    size: int
    sha256: str | None      # None for a directory
    type: str = "file"      # "file", SIGNATURE_MEMBER; engine archives also "dir", ...

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256,
                "type": self.type}


@dataclass(frozen=True)
class PayloadFile:
    """A file of the payload: a wheel's file as RECORD gives it, a native payload's
    library, or an engine archive's source file (both hashed from the bytes)."""

    path: str
    size: int | None         # None only when RECORD gives no size (RECORD itself)
    sha256: str | None       # hex; None when RECORD gives no sha256
    note: str | None = None  # NO_HASH, NOT_IN_RECORD, SIGNATURE, NOT_IN_WHEEL, SIZE_DIFFERS
    zip_size: int | None = None  # a wheel's file: the size the zip's directory declares

    @property
    def shown_size(self) -> int | None:
        return self.size if self.size is not None else self.zip_size

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256,
                "note": self.note, "zip_size": self.zip_size}


@dataclass(frozen=True)
class Listing:
    path: str
    format: str                              # CLOACINA or ENGINE
    members: tuple[ListedMember, ...]
    payload_files: tuple[PayloadFile, ...]
    payload: Payload | None
    native: NativeFacts | None = None
    root: str | None = None                  # engine: the NAME-VERSION directory
    record: str | None = None                # wheel: RECORD's path in the wheel
    complete: bool = True                    # read to the end, the payload's index too
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.complete and not has_errors(list(self.findings))

    def totals(self) -> dict[str, int]:
        return {"members": len(self.members),
                "member_bytes": sum(m.size for m in self.members),
                "payload_files": len(self.payload_files),
                "payload_bytes": sum(f.shown_size or 0 for f in self.payload_files)}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "format": self.format,
                "complete": self.complete, "root": self.root, "record": self.record,
                "payload": self.payload.to_dict() if self.payload else None,
                "native": self.native.to_dict() if self.native else None,
                "members": [m.to_dict() for m in self.members],
                "payload_files": [f.to_dict() for f in self.payload_files],
                "totals": self.totals(),
                "findings": [f.to_dict() for f in self.findings]}
