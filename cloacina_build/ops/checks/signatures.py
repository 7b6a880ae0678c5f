"""Signatures, judged by the trust policy after the streaming pass."""

from __future__ import annotations

from ...format.archive import DEFAULT_MTIME
from ...model import Manifest
from ...progress import NO_PROGRESS, Progress
from ...trust.policy import (
    Outcome,
    SignatureCheck,
    TrustPolicy,
    signature_findings,
)
from ..trailer import trailer_is_canonical
from .scan import Scan, raw_digests


def needs_judging(scan: Scan, policy: TrustPolicy) -> bool:
    return bool(scan.signature_members) or policy.require_signature \
        or policy.detached is not None


def signature_outcome(scan: Scan, manifest: Manifest, policy: TrustPolicy,
                      progress: Progress = NO_PROGRESS) -> Outcome:
    """Every signature judged; the raw digests are computed here if the pass did not."""
    if scan.archive_digest is None:  # signatures the trailer peek did not see
        scan.archive_digest, scan.file_digest = raw_digests(
            scan.path, scan.frames[-1].offset if scan.frames else 0, progress)
    check = SignatureCheck(
        package=manifest.package.name, version=manifest.package.version,
        digest=scan.digest or "", archive=scan.archive_digest,
        members=scan.signature_members, trailer_ok=_trailer_is_canonical(scan, manifest),
        file_sha256=scan.file_digest)
    return signature_findings(check, policy)


def _trailer_is_canonical(scan: Scan, manifest: Manifest) -> bool:
    """The last frame must be exactly what ``sign`` writes for these signatures."""
    epoch = manifest.build.source_date_epoch
    return len(scan.frames) >= 2 and trailer_is_canonical(
        scan.path, scan.frames, scan.signature_members,
        DEFAULT_MTIME if epoch is None else epoch)
