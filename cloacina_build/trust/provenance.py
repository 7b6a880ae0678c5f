"""Build provenance: an in-toto Statement v1 of SLSA provenance v1, in a DSSE envelope, in
``FILE.intoto.jsonl`` beside the package ``FILE``.

The statement::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": FILE's name, "digest": {"sha256": FILE's sha256}}],
     "predicateType": "https://slsa.dev/provenance/v1",
     "predicate": {"buildDefinition": {...}, "runDetails": {...}}}

This module holds the statement's model and its verification against a trust store; the
predicate is assembled by ``build/provenance.py`` (at build time) and ``ops/attest.py``
(for a package already built).  Verification follows DSSE's order: the payload type, then
the signatures (each judged by the trust policy ``verify`` applies to package signatures:
trusted, not revoked, not expired), and only then is the payload parsed; the subject must
name the file (its name and its sha256).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..findings import Finding, error, warning
from ..fsutil import file_sha256
from ..model import SignatureStatus
from ..strict_json import clip, strict_json
from .dsse import IN_TOTO, MAX_ENVELOPE, Envelope, EnvelopeSignature, parse_envelope
from .store import TrustedKey, TrustStore

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
SUFFIX = ".intoto.jsonl"
DOCS = "https://github.com/colliery-io/cloacina-build/blob/main/docs/provenance.md"
BUILD_TYPE = f"{DOCS}#buildtype-v1"
BUILDER_ID = f"{DOCS}#builder-v1"
MISSING = "missing"  # a verdict's status when there is no attestation at all


def attestation_path(package: Path | str) -> Path:
    """Where ``package``'s attestation lives: ``FILE.intoto.jsonl`` beside it."""
    return Path(str(package) + SUFFIX)


def sidecar_attestation(package: Path | str) -> Path | None:
    """``FILE.intoto.jsonl`` beside the package ``FILE``, if there is one."""
    candidate = attestation_path(package)
    return candidate if candidate.is_file() else None


def read_attestation_file(path: Path) -> bytes:
    """At most one byte over :data:`MAX_ENVELOPE` (so a larger file is seen to be so)."""
    with open(path, "rb") as fh:
        return fh.read(MAX_ENVELOPE + 1)


def statement_bytes(subject_name: str, sha256: str, predicate: dict[str, Any]) -> bytes:
    """The serialized statement (compact JSON, sorted keys, UTF-8): the DSSE payload."""
    statement = {"_type": STATEMENT_TYPE,
                 "subject": [{"name": subject_name, "digest": {"sha256": sha256}}],
                 "predicateType": PREDICATE_TYPE, "predicate": predicate}
    return json.dumps(statement, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


# ------------------------------------------------------------------ the facts shown


@dataclass(frozen=True)
class Dependency:
    """One ``resolvedDependencies`` entry, as shown."""

    name: str | None
    uri: str | None
    digest: dict[str, str]
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "uri": self.uri, "digest": dict(self.digest),
                "version": self.version}


@dataclass(frozen=True)
class ProvenanceFacts:
    """The predicate's key facts (what ``verify --provenance`` shows)."""

    build_type: str | None
    builder_id: str | None
    invocation_id: str | None
    started_on: str | None
    finished_on: str | None
    source: Dependency | None
    toolchain: tuple[Dependency, ...]
    external_parameters: dict[str, Any]
    attested_after_build: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"build_type": self.build_type, "builder_id": self.builder_id,
                "invocation_id": self.invocation_id, "started_on": self.started_on,
                "finished_on": self.finished_on,
                "source": self.source.to_dict() if self.source else None,
                "toolchain": [d.to_dict() for d in self.toolchain],
                "external_parameters": self.external_parameters,
                "attested_after_build": self.attested_after_build}


class _Bad(ValueError):
    pass


def _obj(value: Any, path: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"'{path}' must be an object")
    return value


def _text(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise _Bad(f"'{path}' must be text of at most 4096 characters")
    return value


def _dependency(value: Any, path: str) -> Dependency:
    entry = _obj(value, path, optional=False)
    digest = _obj(entry.get("digest"), f"{path}.digest")
    if not all(isinstance(v, str) and len(v) <= 256 for v in digest.values()):
        raise _Bad(f"'{path}.digest' must map algorithms to text")
    annotations = _obj(entry.get("annotations"), f"{path}.annotations")
    version = annotations.get("version")
    return Dependency(_text(entry.get("name"), f"{path}.name"),
                      _text(entry.get("uri"), f"{path}.uri"), dict(digest),
                      version if isinstance(version, str) else None)


def read_facts(predicate: Any) -> ProvenanceFacts:
    """The key facts of a SLSA v1 predicate (raises ``_Bad`` for a wrong type)."""
    pred = _obj(predicate, "predicate", optional=False)
    build = _obj(pred.get("buildDefinition"), "predicate.buildDefinition")
    run = _obj(pred.get("runDetails"), "predicate.runDetails")
    meta = _obj(run.get("metadata"), "predicate.runDetails.metadata")
    deps_value = build.get("resolvedDependencies") or []
    if not isinstance(deps_value, list) or len(deps_value) > 256:
        raise _Bad("'predicate.buildDefinition.resolvedDependencies' must be an array")
    deps = [_dependency(d, f"predicate.buildDefinition.resolvedDependencies[{i}]")
            for i, d in enumerate(deps_value)]
    source = next((d for d in deps if "gitCommit" in d.digest or d.name == "source"), None)
    internal = _obj(build.get("internalParameters"),
                    "predicate.buildDefinition.internalParameters")
    after = internal.get("attestedAfterBuild")
    return ProvenanceFacts(
        build_type=_text(build.get("buildType"), "predicate.buildDefinition.buildType"),
        builder_id=_text(_obj(run.get("builder"), "predicate.runDetails.builder").get("id"),
                         "predicate.runDetails.builder.id"),
        invocation_id=_text(meta.get("invocationId"), "metadata.invocationId"),
        started_on=_text(meta.get("startedOn"), "metadata.startedOn"),
        finished_on=_text(meta.get("finishedOn"), "metadata.finishedOn"),
        source=source, toolchain=tuple(d for d in deps if d is not source),
        external_parameters=_obj(build.get("externalParameters"),
                                 "predicate.buildDefinition.externalParameters"),
        attested_after_build=after if isinstance(after, bool) else None)


# ------------------------------------------------------------------ verification


@dataclass
class ProvenanceVerdict:
    """What was concluded about ``FILE.intoto.jsonl``: ``status`` is a signature status
    (``verified``, ``untrusted``, ``revoked``, ``expired``, ``invalid``, ``malformed``,
    ``wrong-package``, ``unknown``) or ``missing``."""

    path: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    signer: str | None = None
    key_id: str | None = None
    subject: tuple[str, str] | None = None      # name, sha256 (when the statement was read)
    facts: ProvenanceFacts | None = None

    @property
    def ok(self) -> bool:
        return self.status == SignatureStatus.VERIFIED and \
            not any(f.is_error for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": str(self.status), "verified": self.ok,
                "signer": self.signer, "key_id": self.key_id,
                "subject": {"name": self.subject[0], "sha256": self.subject[1]}
                if self.subject else None,
                "predicate": self.facts.to_dict() if self.facts else None}


def missing(where: str, package: str) -> ProvenanceVerdict:
    return ProvenanceVerdict(where, MISSING, [error(
        "provenance-missing", f"no build provenance beside {package} (expected "
        f"{Path(where).name}), and --provenance requires it", where)])


def judge_attestation(data: bytes, *, where: str, name: str, sha256: str,
                      trust: TrustStore | None, now: dt.datetime | None = None
                      ) -> ProvenanceVerdict:
    """Total: the verdict on the envelope ``data`` for the package file named ``name``
    whose bytes hash to ``sha256``, with signatures judged against ``trust``."""
    envelope, verdict = _opened(data, where)
    if envelope is None or trust is None:
        return verdict
    _judge_signatures(envelope, trust, now or dt.datetime.now(dt.UTC), verdict)
    if verdict.status == SignatureStatus.VERIFIED:
        _read_statement(envelope.payload, name, sha256, verdict)
    return verdict


def subject_findings(data: bytes, *, where: str, name: str, sha256: str | None
                     ) -> list[Finding]:
    """Without judging signatures: what is wrong with the envelope ``data`` as an
    attestation of the file named ``name`` whose bytes hash to ``sha256`` (push refuses
    to publish one made for other bytes); with ``sha256`` None, as an attestation at all."""
    envelope, verdict = _opened(data, where)
    if envelope is not None:
        _read_statement(envelope.payload, name, sha256, verdict)
    return verdict.findings


def _opened(data: bytes, where: str) -> tuple[Envelope | None, ProvenanceVerdict]:
    """The envelope, if it is an in-toto one, and the verdict so far."""
    envelope, findings = parse_envelope(data, where)
    if envelope is None:
        return None, ProvenanceVerdict(where, SignatureStatus.MALFORMED, findings)
    if envelope.payload_type != IN_TOTO:
        return None, ProvenanceVerdict(where, SignatureStatus.MALFORMED, [error(
            "provenance-payload-type", f"payloadType is {clip(repr(envelope.payload_type))},"
            f" not {IN_TOTO}: not an in-toto attestation", where)])
    return envelope, ProvenanceVerdict(where, SignatureStatus.UNKNOWN)


def verify_attestation(package: Path | str, trust: TrustStore | None, *,
                       sha256: str | None = None, attestation: Path | str | None = None,
                       now: dt.datetime | None = None) -> ProvenanceVerdict:
    """The verdict on ``package``'s attestation (``FILE.intoto.jsonl``, or
    ``attestation``): ``provenance-missing`` when there is none.  ``sha256``: the file's
    digest when the caller has it (the verifier's pass computed it), else it is hashed."""
    package = Path(package)
    where = Path(attestation) if attestation is not None else attestation_path(package)
    if not where.is_file():
        return missing(str(where), str(package))
    try:
        data = read_attestation_file(where)
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror}") from None
    return judge_attestation(data, where=str(where), name=package.name,
                             sha256=sha256 or file_sha256(package), trust=trust, now=now)



_ORDER = [SignatureStatus.VERIFIED, SignatureStatus.REVOKED, SignatureStatus.INVALID,
          SignatureStatus.EXPIRED, SignatureStatus.UNTRUSTED]


def _judge_signatures(envelope: Envelope, trust: TrustStore, now: dt.datetime,
                      verdict: ProvenanceVerdict) -> None:
    """Every signature judged; one that verifies by a trusted, valid key is enough, but a
    revoked key or a signature that fails under the key it names is always an error (as
    for package signatures), and without a verified one every problem is."""
    message = envelope.pae()
    judged = [_judge(sig, message, trust, now) for sig in envelope.signatures]
    signers = [k for s, k, _ in judged if s is SignatureStatus.VERIFIED and k is not None]
    refused = []
    for status, _, (code, text) in judged:
        if status is SignatureStatus.VERIFIED:
            continue
        hard = status in (SignatureStatus.REVOKED, SignatureStatus.INVALID) or not signers
        verdict.findings.append((error if hard else warning)(code, text, verdict.path))
        if hard:
            refused.append(status)
    if signers:
        verdict.signer, verdict.key_id = signers[0].name, signers[0].id
    verdict.status = min(refused, key=_ORDER.index) if refused else SignatureStatus.VERIFIED


def _judge(sig: EnvelopeSignature, message: bytes, trust: TrustStore, now: dt.datetime
           ) -> tuple[SignatureStatus, TrustedKey | None, tuple[str, str]]:
    named = trust.lookup(sig.keyid.lower())  # a hint only (DSSE): tried first, not trusted
    candidates = ([named] if named is not None else []) + \
        [k for k in trust.keys.values() if k is not named]
    signed_by = next((k for k in candidates if k.key.verify(sig.sig, message)), None)
    short = sig.keyid[:16] + "..." if sig.keyid else "(no keyid)"
    if signed_by is None:
        if named is not None:
            return SignatureStatus.INVALID, named, ("provenance-invalid", (
                f"the attestation's signature by '{named.name}' does not verify: it "
                "changed after it was signed (or the payload type did)"))
        revoked, reason = trust.revocation(sig.keyid.lower())
        if revoked:
            return SignatureStatus.REVOKED, None, ("provenance-key-revoked", (
                f"attested by revoked key {short}{': ' + reason if reason else ''}"))
        return SignatureStatus.UNTRUSTED, None, ("provenance-untrusted", (
            f"attested by key {short}, which is not trusted"))
    standing = trust.standing(signed_by, now)
    if standing.revoked:
        reason = standing.reason
        return SignatureStatus.REVOKED, signed_by, ("provenance-key-revoked", (
            f"attested by revoked key '{signed_by.name}'{': ' + reason if reason else ''}"))
    if standing.expired_at is not None:
        return SignatureStatus.EXPIRED, signed_by, ("provenance-key-expired", (
            f"attested by key '{signed_by.name}', which expired at "
            f"{standing.expired_at.isoformat()}"))
    return SignatureStatus.VERIFIED, signed_by, ("", "")


def _read_statement(payload: bytes, name: str, sha256: str | None,
                    verdict: ProvenanceVerdict) -> None:
    where = verdict.path
    try:
        statement = strict_json(payload)
        if not isinstance(statement, dict):
            raise _Bad("the statement must be a JSON object")
        kinds = (statement.get("_type"), statement.get("predicateType"))
        if kinds != (STATEMENT_TYPE, PREDICATE_TYPE):
            verdict.findings.append(error("provenance-statement", f"not a SLSA provenance "
                                          f"v1 statement: _type {clip(repr(kinds[0]))}, "
                                          f"predicateType {clip(repr(kinds[1]))}", where))
            verdict.status = SignatureStatus.MALFORMED
            return
        subjects = _subjects(statement.get("subject"))
        verdict.facts = read_facts(statement.get("predicate"))
    except (ValueError, _Bad) as exc:
        verdict.findings.append(error("provenance-malformed", f"the statement: {exc}", where))
        verdict.status = SignatureStatus.MALFORMED
        return
    if sha256 is not None:
        _match_subject(subjects, name, sha256, verdict)


def _subjects(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value or len(value) > 256:
        raise _Bad("'subject' must be a non-empty array")
    out = []
    for i, item in enumerate(value):
        entry = _obj(item, f"subject[{i}]", optional=False)
        digest = _obj(entry.get("digest"), f"subject[{i}].digest").get("sha256")
        subject_name = entry.get("name")
        if not isinstance(subject_name, str) or not isinstance(digest, str):
            raise _Bad(f"'subject[{i}]' needs a name and a sha256 digest")
        out.append((subject_name, digest.lower()))
    return out


def _match_subject(subjects: list[tuple[str, str]], name: str, sha256: str,
                   verdict: ProvenanceVerdict) -> None:
    for subject in subjects:
        if subject == (name, sha256):
            verdict.subject = subject
            return
    verdict.subject = subjects[0]
    same_bytes = [s for s in subjects if s[1] == sha256]
    if same_bytes:
        what = (f"the attestation names {clip(repr(same_bytes[0][0]))}, not {name!r} "
                "(the same bytes under another name)")
    else:
        what = (f"the attestation was made for other bytes ({clip(repr(subjects[0][0]))}, "
                f"sha256 {subjects[0][1][:16]}...), not for this file (sha256 "
                f"{sha256[:16]}...): another package, or this one changed after it was "
                "attested")
    verdict.findings.append(error("provenance-subject-mismatch", what, verdict.path))
    verdict.status = SignatureStatus.WRONG_PACKAGE


__all__ = ["BUILDER_ID", "BUILD_TYPE", "PREDICATE_TYPE", "STATEMENT_TYPE", "SUFFIX",
           "Dependency", "ProvenanceFacts", "ProvenanceVerdict", "attestation_path",
           "judge_attestation", "missing", "read_attestation_file", "read_facts",
           "sidecar_attestation", "statement_bytes", "verify_attestation", "subject_findings"]
