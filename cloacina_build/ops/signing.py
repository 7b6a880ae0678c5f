"""Sign a package: an embedded signature in the trailer, or an engine-format ``.sig``.

Embedded signing copies the head and payload frames byte for byte and rewrites only the
trailer frame, so the signed package holds the same manifest and payload bytes as the
unsigned build.  A package is validated before it is signed: a signature endorses content,
so tampered or malformed content is never signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import PackageError, UsageError
from ..format import archive
from ..format.package import open_package, refuse_engine
from ..fsutil import file_sha256
from ..trust.keys import SigningKey
from ..trust.signatures import (
    MAX_COMMENT,
    encode_record,
    make_detached,
    make_record,
    member_name,
)
from .validate import ValidationPolicy, validate_package

CHUNK = 1 << 20


@dataclass(frozen=True)
class SignResult:
    path: Path
    key_id: str
    signer: str
    signed_at: str
    detached: bool
    signatures: int  # embedded signatures in the package after signing

    def to_dict(self) -> dict[str, object]:
        return {"ok": True, "path": str(self.path), "key_id": self.key_id,
                "signer": self.signer, "signed_at": self.signed_at,
                "detached": self.detached, "signatures": self.signatures}


@contextlib.contextmanager
def _validated_copy(path: Path):
    """A private copy of the package, validated: what is signed is exactly what was
    checked, even if the file is replaced meanwhile."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}", hint="pass the path of a .cloacina package")
    refuse_engine(path, "sign")
    with tempfile.TemporaryDirectory(prefix="cloacina-sign-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        report = validate_package(copy, ValidationPolicy(check_host=False))
        if not report.ok:
            raise PackageError(f"{path} failed validation; refusing to sign it",
                               code="invalid", findings=report.errors,
                               hint="rebuild the package, validate it, then sign")
        yield copy


def sign_package(path: Path | str, key: SigningKey, *, comment: str = "",
                 signer: str | None = None, when: dt.datetime | None = None) -> SignResult:
    """Add (or replace) this key's embedded signature; the file is replaced atomically."""
    path = Path(path)
    with _validated_copy(path) as copy:
        return _sign_copy(path, copy, key, comment, signer, when)


def _sign_copy(path: Path, copy: Path, key: SigningKey, comment: str, signer: str | None,
               when: dt.datetime | None) -> SignResult:
    pkg = open_package(copy)
    frames = pkg.frames
    if len(frames) != 3 or any(f.checksum is None for f in frames):
        raise PackageError(f"{path} is not laid out as head, payload and trailer frames "
                           "with checksums; rebuild it with cloacinactl package",
                           code="archive-layout")
    if len(comment) > MAX_COMMENT:
        raise UsageError(f"the comment is longer than {MAX_COMMENT} characters")
    members = {name: data for name, data in pkg.signature_members}
    epoch = pkg.manifest.build.source_date_epoch
    epoch = archive.DEFAULT_MTIME if epoch is None else epoch
    with archive.atomic_output(path) as out, open(copy, "rb") as src:
        prefix = hashlib.sha256()
        left = frames[-1].offset
        while left:
            chunk = src.read(min(CHUNK, left))
            if not chunk:
                raise PackageError(f"{path} changed while it was being signed")
            prefix.update(chunk)
            out.write(chunk)
            left -= len(chunk)
        record = make_record(key, package=pkg.name, version=pkg.version, digest=pkg.digest,
                             archive=prefix.hexdigest(), comment=comment, signer=signer,
                             when=when)
        members[member_name(record["payload"]["key_id"])] = encode_record(record)
        archive.write_trailer(out, sorted(members.items()), epoch)
    p = record["payload"]
    return SignResult(path, p["key_id"], p["signer"], p["signed_at"], False, len(members))


def sign_detached(path: Path | str, key: SigningKey, *, out: Path | str | None = None,
                  when: dt.datetime | None = None) -> SignResult:
    """Write ``FILE.sig`` in the engine's format; the package is left untouched."""
    path = Path(path)
    with _validated_copy(path) as copy:
        sig = make_detached(key, file_sha256(copy), when)
    target = Path(out) if out else path.with_name(path.name + ".sig")
    with archive.atomic_output(target) as fh:
        fh.write(json.dumps(sig, indent=2, sort_keys=True).encode() + b"\n")
    return SignResult(target, sig["key_fingerprint"], key.name, sig["signed_at"], True, 0)
