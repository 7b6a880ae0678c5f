"""The signature trailer: is it exactly what ``sign`` writes (the zstd format's last
frame, an engine archive's second bzip2 stream)?  And what signing reports."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..format.archive import write_trailer
from ..format.engine.archive import EngineArchive
from ..format.engine.trailer import encode_signature_stream
from ..trust.signatures import encode_record, read_record


def trailer_is_canonical(path: Path, frames: list, members: list[tuple[str, bytes]],
                         epoch: int) -> bool:
    """The file's last frame is exactly what ``sign`` writes for these signature records."""
    if not frames:
        return False
    last = frames[-1]
    expected = io.BytesIO()
    write_trailer(expected, canonical_trailer_members(members), epoch)
    with open(path, "rb") as fh:
        fh.seek(last.offset)
        return fh.read(last.length + 1) == expected.getvalue()


def canonical_trailer_members(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The order and encoding ``sign`` writes: sorted by name, records re-encoded."""
    out = []
    for name, data in sorted(members):
        try:
            out.append((name, encode_record(json.loads(data))))
        except (ValueError, UnicodeDecodeError, RecursionError):
            out.append((name, data))
    return out


def engine_trailer_is_canonical(archive: EngineArchive, mtime: int) -> bool:
    """An engine archive's second stream is exactly what ``sign`` writes for its records
    (no second stream at all: there is nothing to account for)."""
    trailing = archive.trailing
    if trailing is None:
        return not archive.signatures
    if trailing.kind != "cloacina-trailer" or archive.root is None:
        return False
    expected = encode_signature_stream(
        archive.root, canonical_trailer_members(list(archive.signatures)), mtime)
    if len(expected) != trailing.size:
        return False
    with open(archive.path, "rb") as fh:
        fh.seek(trailing.offset)
        return fh.read(trailing.size + 1) == expected


@dataclass(frozen=True)
class SignResult:
    path: Path
    key_id: str
    signer: str
    signed_at: str
    detached: bool
    signatures: int  # embedded signatures in the package after signing
    replaced: str | None = None  # with force: the signature this one replaced

    def to_dict(self) -> dict[str, object]:
        return {"ok": True, "path": str(self.path), "key_id": self.key_id,
                "signer": self.signer, "signed_at": self.signed_at,
                "detached": self.detached, "signatures": self.signatures,
                "replaced": self.replaced}


def refuse_to_replace(what: str, where: Path) -> UsageError:
    return UsageError(f"{where} already has {what}; refusing to replace it",
                      code="exists", hint="pass --force to replace it (the old signature "
                      "is lost), or sign a copy")


def embedded_description(data: bytes, name: str) -> str:
    """One embedded signature, for people: who signed it, with which key, when."""
    record = read_record(data, name).record
    if record is None:
        return f"a malformed embedded signature ({name})"
    p = record.payload
    return f"the embedded signature by {p.signer} (key {p.key_id[:16]}, signed {p.signed_at})"
