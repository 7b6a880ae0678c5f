"""One verification policy for ``verify``, ``validate --trust`` and the runtime loader.

``signature_findings`` judges the signatures of a package against a :class:`TrustPolicy`;
the validator calls it after its streaming pass, so verifying costs one validation plus a
few Ed25519 checks.  ``verify_package`` is validation with a signature required, plus the
optional anti-rollback state.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..findings import Finding, error, warning
from ..fsutil import exclusive_lock
from ..model import SignatureStatus
from .signatures import (
    Detached,
    Record,
    SignatureVerdict,
    parse_time,
    read_detached,
    read_records,
)
from .store import TrustStore


@dataclass(frozen=True)
class TrustPolicy:
    """How signatures are judged. ``trust=None`` checks them without trusting any key."""

    trust: TrustStore | None = None
    require_signature: bool = False
    threshold: int = 1
    now: dt.datetime | None = None
    detached: Path | None = None          # a FILE.sig to check as well
    state_file: Path | None = None        # anti-rollback: highest version seen per package
    allow_rollback: bool = False
    provenance: Path | None = None        # a FILE.intoto.jsonl required to verify as well

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise UsageError("the signature threshold must be at least 1")
        if self.require_signature and self.trust is None:
            raise UsageError("requiring a signature needs trusted keys",
                             hint="pass --trust DIR_OR_FILE")


@dataclass
class SignatureCheck:
    """What the validator hands over after its pass."""

    package: str
    version: str
    digest: str                 # sha256 of the manifest bytes
    archive: str | None         # sha256 of the raw bytes before the trailer frame
    members: list[tuple[str, bytes]]  # signature members, in archive order
    trailer_ok: bool            # the trailer frame is the canonical encoding of members
    file_sha256: str | None = None    # sha256 of the whole file (what a .sig covers)


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    signatures: list[SignatureVerdict] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # names of counted signers


@dataclass
class _Tally:
    """Signers that count toward the threshold, and trust problems held back until the
    threshold decides whether they are errors or warnings."""

    counted: dict[str, str] = field(default_factory=dict)  # key id -> signer name
    not_counted: list[tuple[str, str, str]] = field(default_factory=list)  # code, msg, where

    def hold(self, code: str, message: str, where: str) -> None:
        self.not_counted.append((code, message, where))


def signature_findings(check: SignatureCheck, policy: TrustPolicy) -> Outcome:
    out = Outcome()
    now = policy.now or dt.datetime.now(dt.UTC)
    tally = _Tally()
    if check.members and not check.trailer_ok:
        out.findings.append(error("signature-trailer", "the signature trailer is not in its "
                                  "canonical form (changed after signing?)"))
    seen_ids: set[str] = set()
    for read in read_records(check.members):
        if read.record is None:
            out.findings += read.findings
            out.signatures.append(SignatureVerdict(read.member, SignatureStatus.MALFORMED))
            continue
        record = read.record
        status = _judge_record(record, check, policy, now, out, tally)
        out.signatures.append(SignatureVerdict.of(record, status))
        if status is SignatureStatus.VERIFIED and record.key_id not in seen_ids:
            tally.counted[record.key_id] = _trusted_name(policy, record)
        seen_ids.add(record.key_id)
    if policy.detached is not None:
        _judge_detached(check, policy, now, out, tally)
    _threshold(check, policy, out, tally)
    out.verified = sorted(tally.counted.values())
    return out


def _trusted_name(policy: TrustPolicy, record: Record) -> str:
    trusted = policy.trust.lookup(record.key_id) if policy.trust else None
    return trusted.name if trusted else record.payload.signer


def _judge_record(record: Record, check: SignatureCheck, policy: TrustPolicy, now,
                  out: Outcome, tally: _Tally) -> SignatureStatus:
    p, name = record.payload, record.member
    if (p.package, p.version) != (check.package, check.version):
        out.findings.append(error("signature-wrong-package", f"signature made for "
                                  f"{p.package} {p.version}, not {check.package} "
                                  f"{check.version} (moved between packages?)", name))
        return SignatureStatus.WRONG_PACKAGE
    if not record.valid():
        out.findings.append(error("signature-invalid", f"the signature by "
                                  f"{record.key_id[:16]}... does not verify", name))
        return SignatureStatus.INVALID
    if p.digest != check.digest or (check.archive is not None
                                    and p.archive != check.archive):
        out.findings.append(error("signature-content-mismatch", "the package content "
                                  "changed after it was signed (tampered)", name))
        return SignatureStatus.CONTENT_MISMATCH
    if policy.trust is None:
        return SignatureStatus.UNKNOWN
    revoked, reason = policy.trust.revocation(record.key_id)
    if revoked:
        out.findings.append(error("signature-key-revoked", f"signed by revoked key "
                                  f"{record.key_id[:16]}...{': ' + reason if reason else ''}",
                                  name))
        return SignatureStatus.REVOKED
    trusted = policy.trust.lookup(record.key_id)
    if trusted is None:
        tally.hold("signature-untrusted", f"signed by key {record.key_id[:16]}... "
                   f"('{p.signer}'), which is not trusted", name)
        return SignatureStatus.UNTRUSTED
    standing = policy.trust.standing(trusted, now)
    assert not standing.revoked  # the revocation was checked before the lookup
    if standing.expired_at is not None:
        tally.hold("signature-key-expired", f"signed by key '{trusted.name}', which "
                   f"expired at {standing.expired_at.isoformat()}", name)
        return SignatureStatus.EXPIRED
    return SignatureStatus.VERIFIED


def read_detached_file(path: Path) -> bytes:
    """At most 64 KiB of a detached signature file (a real one is a few hundred bytes)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(64 * 1024)
    except OSError as exc:
        raise UsageError(f"cannot read the detached signature {path}: {exc.strerror}") \
            from None


def _judge_detached(check, policy: TrustPolicy, now, out: Outcome, tally: _Tally) -> None:
    assert policy.detached is not None
    where = str(policy.detached)
    sig, problems = read_detached(read_detached_file(Path(policy.detached)), where)
    if sig is None:
        out.findings += problems
        return
    status, signer = _detached_status(sig, check, policy, now, out, tally, where)
    out.signatures.append(SignatureVerdict(where, status, sig.key_id, signer, sig.signed_at,
                                           None, detached=True))
    if status is SignatureStatus.VERIFIED and signer is not None:
        tally.counted.setdefault(sig.key_id, signer)


def _detached_status(sig: Detached, check, policy: TrustPolicy, now, out: Outcome,
                     tally: _Tally, where: str) -> tuple[SignatureStatus, str | None]:
    if check.file_sha256 is None:  # inspect without --trust: the file was not hashed
        return SignatureStatus.UNKNOWN, None
    if sig.package_hash != check.file_sha256:
        out.findings.append(error("signature-wrong-package", "the detached signature was made "
                                  "for other bytes (another package, or this one changed)",
                                  where))
        return SignatureStatus.WRONG_PACKAGE, None
    if policy.trust is not None and sig.key_id in policy.trust.revoked:
        reason = policy.trust.revoked[sig.key_id]
        out.findings.append(error("signature-key-revoked", f"signed by revoked key "
                                  f"{sig.key_id[:16]}...{': ' + reason if reason else ''}",
                                  where))
        return SignatureStatus.REVOKED, None
    trusted = policy.trust.lookup(sig.key_id) if policy.trust else None
    if policy.trust is None or trusted is None:
        if policy.trust is None:
            return SignatureStatus.UNKNOWN, None
        tally.hold("signature-untrusted", f"detached signature by key {sig.key_id[:16]}..., "
                   "which is not trusted", where)
        return SignatureStatus.UNTRUSTED, None
    if not sig.valid_with(trusted.key):
        out.findings.append(error("signature-invalid", "the detached signature does not "
                                  "verify", where))
        return SignatureStatus.INVALID, trusted.name
    standing = policy.trust.standing(trusted, now)
    if standing.revoked:
        reason = standing.reason
        out.findings.append(error("signature-key-revoked", f"signed by revoked key "
                                  f"'{trusted.name}'{': ' + reason if reason else ''}", where))
        return SignatureStatus.REVOKED, trusted.name
    if standing.expired_at is not None:
        tally.hold("signature-key-expired", f"signed by key '{trusted.name}', which "
                   f"expired at {standing.expired_at.isoformat()}", where)
        return SignatureStatus.EXPIRED, trusted.name
    return SignatureStatus.VERIFIED, trusted.name


def _threshold(check, policy: TrustPolicy, out: Outcome, tally: _Tally) -> None:
    short = policy.require_signature and len(tally.counted) < policy.threshold
    for code, message, where in tally.not_counted:
        out.findings.append(error(code, message, where) if short
                            else warning(code, message, where))
    if not short:
        return
    if not out.signatures:
        what = f"{check.package} {check.version}".strip() or "the package"
        out.findings.append(error("signature-missing", f"{what} is unsigned, and a signature "
                                  "is required"))
    elif policy.threshold > 1 or not (tally.not_counted or any(
            f.is_error and f.code.startswith("signature-") for f in out.findings)):
        out.findings.append(error("signature-threshold", f"{len(tally.counted)} distinct "
                                  f"trusted signer(s) verified; {policy.threshold} required"))


def describe_signatures(package: str, version: str, digest: str,
                        members: list[tuple[str, bytes]], trust: TrustStore | None,
                        now: dt.datetime | None = None, *, detached: Path | None = None,
                        file_sha256: str | None = None) -> list[SignatureVerdict]:
    """Signature verdicts from the head alone (for inspect): records are checked against
    the manifest digest and the trust store, not against the payload bytes.  A
    ``detached`` signature (``FILE.sig``) is judged against ``file_sha256``, the whole
    file's hash; without it (no trust given, so the file was not read) its status is
    unknown."""
    check = SignatureCheck(package, version, digest, None, members, trailer_ok=True,
                           file_sha256=file_sha256)
    return signature_findings(check, TrustPolicy(trust=trust, now=now,
                                                 detached=detached)).signatures




# ------------------------------------------------------------------ anti-rollback


def check_rollback(state_file: Path, package: str, version: str, *, allow: bool
                   ) -> Finding | None:
    """Refuse a version lower than the highest seen for this package; record a higher one."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    name = canonicalize_name(package)
    with exclusive_lock(Path(str(state_file) + ".lock")):
        state = _read_state(state_file)
        seen = state["packages"].get(name)
        try:
            if seen is not None and Version(version) < Version(seen) and not allow:
                return error("rollback", f"{package} {version} is older than {seen}, the "
                             f"highest version already accepted (state: {state_file})")
            if seen is None or Version(version) > Version(seen):
                state["packages"][name] = version
                _write_state(state_file, state)
        except InvalidVersion:
            return error("rollback", f"cannot compare versions {version!r} and {seen!r}")
    return None


def _read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": 1, "packages": {}}
    try:
        state = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"the rollback state file {path} is unreadable: {exc}",
                         hint="restore it from a backup; deleting it forgets every version "
                              "seen") from None
    if not isinstance(state, dict) or not isinstance(state.get("packages"), dict):
        raise UsageError(f"the rollback state file {path} is not a state file")
    return state


def _write_state(path: Path, state: dict[str, Any]) -> None:
    from ..fsutil import atomic_output

    with atomic_output(path) as fh:
        fh.write(json.dumps(state, indent=2, sort_keys=True).encode() + b"\n")


def sidecar(package: Path | str) -> Path | None:
    """``FILE.sig`` beside the package ``FILE``, if there is one."""
    candidate = Path(str(package) + ".sig")
    return candidate if candidate.is_file() else None


def policy_from_options(trust: Path | str | None, *, threshold: int = 1,
                        detached: Path | str | None = None, require: bool = False,
                        state: Path | str | None = None, allow_rollback: bool = False,
                        sidecar_of: Path | str | None = None,
                        provenance: bool = False) -> TrustPolicy:
    """A policy from the command line's options: a trust directory or file, a detached
    signature, a state file.  ``sidecar_of``: a package whose ``FILE.sig`` counts as its
    detached signature when none is given (``verify`` and ``run`` do this), and whose
    ``FILE.intoto.jsonl`` must verify too with ``provenance``."""
    from .store import load_trust

    store = load_trust(trust) if trust else None
    if detached is None and sidecar_of is not None:
        detached = sidecar(sidecar_of)
    if detached is not None and not Path(detached).is_file():
        raise UsageError(f"no detached signature at {detached}")
    attestation: Path | None = None
    if provenance and sidecar_of is not None:
        from .provenance import attestation_path  # the DSSE reader, only when asked

        attestation = attestation_path(sidecar_of)
    return TrustPolicy(trust=store, require_signature=require, threshold=threshold,
                       detached=Path(detached) if detached is not None else None,
                       state_file=Path(state) if state else None,
                       allow_rollback=allow_rollback, provenance=attestation)


def require(policy: TrustPolicy) -> TrustPolicy:
    """The policy ``verify`` uses: the same, with a signature required."""
    return replace(policy, require_signature=True)


__all__ = ["TrustPolicy", "signature_findings", "check_rollback", "parse_time",
           "policy_from_options", "sidecar"]
