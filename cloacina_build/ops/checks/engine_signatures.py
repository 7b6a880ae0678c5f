"""Signatures of an engine archive, judged by the one trust policy (``trust/policy.py``).

Embedded records sit in the archive's second bzip2 stream (``format/engine/trailer.py``);
each is the zstd format's record: its package digest must be the sha256 of
``.cloacina-build/manifest.json`` (whose members and digests the engine checks compare with
the source), its archive digest the sha256 of the first stream's bytes, and the second
stream must be exactly what ``sign`` writes.  A detached ``FILE.sig`` (the engine's own
format) covers every byte of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...findings import error
from ...format import manifest as mf
from ...format.archive import DEFAULT_MTIME
from ...format.engine.archive import EngineArchive
from ...model import Manifest
from ...progress import NO_PROGRESS, Progress
from ...trust.policy import Outcome, SignatureCheck, TrustPolicy, signature_findings
from ..trailer import engine_trailer_is_canonical
from .scan import raw_digests


@dataclass
class EngineSignatures:
    outcome: Outcome = field(default_factory=Outcome)
    digest: str | None = None           # sha256 of .cloacina-build/manifest.json
    archive_digest: str | None = None   # sha256 of the first stream's bytes
    file_digest: str | None = None      # sha256 of the whole file


def needs_judging(archive: EngineArchive, policy: TrustPolicy) -> bool:
    """Records to judge, or a caller who asked about signatures (then a second stream
    that hides records, being no signature stream, is an error, not just a warning)."""
    return bool(archive.signatures) or policy.require_signature \
        or policy.detached is not None or policy.trust is not None


def engine_signatures(archive: EngineArchive, policy: TrustPolicy,
                      progress: Progress = NO_PROGRESS) -> EngineSignatures:
    """Every signature of the archive judged (the file is read once more, to hash it)."""
    manifest = archive.built[0]
    name, version = _identity(archive, manifest)
    cut = archive.trailing.offset if archive.trailing is not None else archive.file_size
    archive_digest, whole = raw_digests(archive.path, cut, progress)
    digest = mf.digest(archive.build_manifest) if archive.build_manifest is not None else None
    epoch = manifest.build.source_date_epoch if manifest is not None else None
    check = SignatureCheck(
        package=name, version=version, digest=digest or "", archive=archive_digest,
        members=list(archive.signatures), file_sha256=whole,
        trailer_ok=engine_trailer_is_canonical(
            archive, DEFAULT_MTIME if epoch is None else epoch))
    outcome = signature_findings(check, policy)
    if archive.trailer_problem is not None:
        outcome.findings.insert(0, error(
            "signature-trailer", "the bytes after the first bzip2 stream are not the "
            f"signature stream 'cloacinactl sign' writes: {archive.trailer_problem}"))
    return EngineSignatures(outcome, digest, archive_digest, whole)


def _identity(archive: EngineArchive, manifest: Manifest | None) -> tuple[str, str]:
    """The name and version a record must be bound to: our manifest's (validation checks
    they agree with package.toml), else package.toml's."""
    if manifest is not None:
        return manifest.package.name, manifest.package.version
    if archive.manifest is not None:
        return archive.manifest.name or "", archive.manifest.version or ""
    return "", ""
