"""Embedded signatures in an engine archive: records in its second bzip2 stream.

The first stream (every member, what the engine reads) is copied byte for byte and only the
second stream is rewritten: the records, as ``NAME-VERSION/.cloacina-build/signatures/
<key id>.json`` members, then the tar's end blocks (``format/engine/trailer.py``).  A record
is the zstd format's: it signs the package digest (sha256 of
``.cloacina-build/manifest.json``, which lists every file's size and sha256), bound to the
name and version, and the archive digest (sha256 of the first stream's bytes).

An archive without ``.cloacina-build/manifest.json`` (one the engine's own tools made) has no
package digest to sign: it can carry only a detached ``FILE.sig``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import BinaryIO

from ..errors import PackageError, UsageError
from ..format import manifest as mf
from ..format.archive import DEFAULT_MTIME
from ..format.engine.archive import BUILD_MANIFEST, EngineArchive, open_engine
from ..format.engine.trailer import encode_signature_stream
from ..fsutil import atomic_output
from ..model import Manifest
from ..trust.keys import SigningKey
from ..trust.signatures import encode_record, make_record, member_name
from .trailer import SignResult, embedded_description, refuse_to_replace

CHUNK = 1 << 20


def sign_engine_copy(path: Path, copy: Path, key: SigningKey, comment: str,
                     signer: str | None, when: dt.datetime | None, force: bool) -> SignResult:
    """Sign the validated private ``copy`` of the engine archive ``path``; ``path`` is
    replaced atomically, its first ``tail_offset`` bytes unchanged."""
    archive = open_engine(copy)
    manifest = signable_manifest(path, archive)
    assert archive.trailing is not None and archive.root is not None
    members = dict(archive.signatures)
    mine = member_name(key.public.id)
    replaced = embedded_description(members[mine], mine) if mine in members else None
    if replaced is not None and not force:
        raise refuse_to_replace(replaced, path)
    epoch = manifest.build.source_date_epoch
    with atomic_output(path) as out, open(copy, "rb") as src:
        prefix = copy_prefix(src, out, archive.trailing.offset, path)
        record = make_record(key, package=manifest.package.name,
                             version=manifest.package.version,
                             digest=mf.digest(archive.build_manifest or b""), archive=prefix,
                             comment=comment, signer=signer, when=when)
        members[member_name(record["payload"]["key_id"])] = encode_record(record)
        out.write(encode_signature_stream(archive.root, sorted(members.items()),
                                          DEFAULT_MTIME if epoch is None else epoch))
    p = record["payload"]
    return SignResult(path, p["key_id"], p["signer"], p["signed_at"], False, len(members),
                      replaced)


def signable_manifest(path: Path, archive: EngineArchive) -> Manifest:
    """This tool's manifest inside the archive; refused when there is none (only a
    detached signature then) or the archive is not laid out as ``package`` writes it."""
    if archive.build_manifest is None:
        raise UsageError(f"{path} has no {BUILD_MANIFEST} (it was not made by 'cloacinactl "
                         "package --format engine'), so it cannot carry an embedded "
                         "signature: there is no package digest to sign",
                         code="engine-no-build-manifest",
                         hint=f"sign it with --detached: {path.name}.sig, the engine's own "
                              "format, covers every byte of the file")
    trailing = archive.trailing
    if trailing is None or trailing.kind != "cloacina-trailer" or archive.root is None:
        raise PackageError(f"{path} does not end with the second bzip2 stream 'cloacinactl "
                           "package --format engine' writes, where signatures go",
                           code="archive-layout",
                           hint="rebuild it with 'cloacinactl package --format engine'")
    manifest = archive.built[0]
    if manifest is None:  # validation refused it before: unreachable unless raced
        raise PackageError(f"{path}: {BUILD_MANIFEST} is unusable; refusing to sign it",
                           code="engine-build-manifest",
                           hint="rebuild it with 'cloacinactl package --format engine'")
    return manifest


def copy_prefix(src: BinaryIO, out: BinaryIO, length: int, path: Path) -> str:
    """Copy the first ``length`` bytes of ``src`` to ``out``; their sha256."""
    digest = hashlib.sha256()
    left = length
    while left:
        chunk = src.read(min(CHUNK, left))
        if not chunk:
            raise PackageError(f"{path} changed while it was being signed",
                               hint="sign it again once nothing is writing to it")
        digest.update(chunk)
        out.write(chunk)
        left -= len(chunk)
    return digest.hexdigest()
