"""Sign a package: an embedded signature in the trailer, or an engine-format ``.sig``.

Embedded signing copies the head and payload frames byte for byte and rewrites only the
trailer frame, so the signed package holds the same manifest and payload bytes as the
unsigned build.  An engine archive (bzip2 source) is signed the same way in its second
bzip2 stream (``engine_signing``); a detached ``FILE.sig`` takes either format.

A package is validated before it is signed: a signature endorses content, so tampered or
malformed content is never signed.

A signature is never replaced silently: signing again with a key that already signed the
package, or writing a ``FILE.sig`` that exists, is refused (``exists``) unless ``force``;
then the result says what was replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

from ..errors import PackageError, UsageError
from ..format import archive
from ..format.engine.bzip import ENGINE, detect_format
from ..format.package import _check_file, open_package
from ..fsutil import file_sha256, no_such_package
from ..trust.keys import SigningKey
from ..trust.policy import read_detached_file, sidecar
from ..trust.provenance import sidecar_attestation
from ..trust.signatures import (
    MAX_COMMENT,
    encode_record,
    make_detached,
    make_record,
    member_name,
    read_detached,
)
from .engine_signing import copy_prefix, sign_engine_copy
from .trailer import SignResult, embedded_description, refuse_to_replace
from .validate import ValidationPolicy, validate_package

__all__ = ["SignResult", "detached_description", "embedded_description",
           "refuse_to_replace", "sign_detached", "sign_package"]


def detached_description(path: Path) -> str:
    try:
        sig, _ = read_detached(read_detached_file(path), str(path))
    except UsageError:
        sig = None
    if sig is None:
        return f"a detached signature {path.name} (unreadable or malformed)"
    return f"a detached signature {path.name} (key {sig.key_id[:16]}, signed {sig.signed_at})"


@contextlib.contextmanager
def _validated_copy(path: Path):
    """A private copy of the package, validated: what is signed is exactly what was
    checked, even if the file is replaced meanwhile."""
    if not path.is_file():
        raise no_such_package(path)
    try:
        if detect_format(path) != ENGINE:  # an engine archive: validated by its rules
            _check_file(path)
    except PackageError as exc:  # not a package at all: say so, naming the user's file
        raise PackageError(f"{exc.message}; refusing to sign it", code=exc.code,
                           hint="sign a package made by 'cloacinactl package'") from None
    with tempfile.TemporaryDirectory(prefix="cloacina-sign-") as tmp:
        copy = Path(tmp) / path.name
        _private_copy(path, copy)
        report = validate_package(copy, ValidationPolicy(check_host=False), shown_as=path)
        if not report.ok:
            raise PackageError(f"{path} failed validation; refusing to sign it",
                               code="invalid", findings=report.errors,
                               hint="rebuild the package, validate it, then sign")
        yield copy


def _private_copy(path: Path, copy: Path) -> None:
    """Copy the package to sign; errors name the user's file, never the private copy."""
    try:
        shutil.copyfile(path, copy)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        if str(path) in (exc.filename, exc.filename2):
            raise UsageError(f"cannot read {path}: {reason}",
                             hint="check that the file exists and can be read") from None
        raise UsageError(f"cannot copy {path} to a private place to sign it: {reason}",
                         code="output-unwritable",
                         hint="set TMPDIR to a writable directory with free space") from None


def sign_package(path: Path | str, key: SigningKey, *, comment: str = "",
                 signer: str | None = None, when: dt.datetime | None = None,
                 force: bool = False) -> SignResult:
    """Add this key's embedded signature; the file is replaced atomically.  A signature by
    the same key is replaced only with ``force`` (``exists`` otherwise)."""
    path = Path(path)
    if len(comment) > MAX_COMMENT:
        raise UsageError(f"the comment is longer than {MAX_COMMENT} characters",
                         hint="shorten the comment")
    _keep_detached(path, force)
    with _validated_copy(path) as copy:
        if detect_format(copy) == ENGINE:
            return sign_engine_copy(path, copy, key, comment, signer, when, force)
        return _sign_copy(path, copy, key, comment, signer, when, force)


def _keep_detached(path: Path, force: bool) -> None:
    """An embedded signature changes the file's bytes, so a detached ``FILE.sig`` or the
    build provenance ``FILE.intoto.jsonl`` beside it would stop matching: refused without
    ``force`` (sign embedded first, detached and attest last)."""
    sig = sidecar(path)
    if sig is not None and not force:
        raise UsageError(f"{path} has a detached signature beside it ({sig.name}); an embedded "
                         "signature changes the file's bytes, and the detached one would no "
                         "longer match", code="exists",
                         hint="add embedded signatures first and the detached one last; "
                              "--force signs anyway (then sign --detached --force again)")
    attested = sidecar_attestation(path)
    if attested is not None and not force:
        raise UsageError(f"{path} has build provenance beside it ({attested.name}); an "
                         "embedded signature changes the file's bytes, and the attestation "
                         "would no longer match", code="exists",
                         hint="sign first and attest last; --force signs anyway (then "
                              "cloacinactl attest FILE --key KEY --force again)")


def _sign_copy(path: Path, copy: Path, key: SigningKey, comment: str, signer: str | None,
               when: dt.datetime | None, force: bool) -> SignResult:
    pkg = open_package(copy)
    frames = pkg.frames
    if len(frames) != 3 or any(f.checksum is None for f in frames):
        raise PackageError(f"{path} is not laid out as head, payload and trailer frames "
                           "with checksums; rebuild it with cloacinactl package",
                           code="archive-layout")
    members = {name: data for name, data in pkg.signature_members}
    mine = member_name(key.public.id)
    replaced = embedded_description(members[mine], mine) if mine in members else None
    if replaced is not None and not force:
        raise refuse_to_replace(replaced, path)
    epoch = pkg.manifest.build.source_date_epoch
    epoch = archive.DEFAULT_MTIME if epoch is None else epoch
    with archive.atomic_output(path) as out, open(copy, "rb") as src:
        prefix = copy_prefix(src, out, frames[-1].offset, path)
        record = make_record(key, package=pkg.name, version=pkg.version, digest=pkg.digest,
                             archive=prefix, comment=comment, signer=signer, when=when)
        members[member_name(record["payload"]["key_id"])] = encode_record(record)
        archive.write_trailer(out, sorted(members.items()), epoch)
    p = record["payload"]
    return SignResult(path, p["key_id"], p["signer"], p["signed_at"], False, len(members),
                      replaced)


def sign_detached(path: Path | str, key: SigningKey, *, out: Path | str | None = None,
                  when: dt.datetime | None = None, force: bool = False) -> SignResult:
    """Write ``FILE.sig`` in the engine's format; the package is left untouched.  An
    existing ``FILE.sig`` is replaced only with ``force`` (``exists`` otherwise)."""
    path = Path(path)
    target = Path(out) if out else path.with_name(path.name + ".sig")
    replaced = detached_description(target) if target.exists() or target.is_symlink() \
        else None
    if replaced is not None and not force:
        raise refuse_to_replace(replaced, path)
    with _validated_copy(path) as copy:
        sig = make_detached(key, file_sha256(copy), when)
    with archive.atomic_output(target) as fh:
        fh.write(json.dumps(sig, indent=2, sort_keys=True).encode() + b"\n")
    return SignResult(target, sig["key_fingerprint"], key.name, sig["signed_at"], True, 0,
                      replaced)
