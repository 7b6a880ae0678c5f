"""Validation: every check a server runs before it trusts a package, as findings.

``validate_package`` streams the archive once (:mod:`.checks.scan`).  The payload is copied
(while it is hashed) into a private temporary directory, the only place anything is
written, and removed afterwards.  Structural problems stop the stream (what follows cannot
be trusted); content problems are all collected by the families of checks in
:mod:`.checks`, each of which reads the typed manifest.  ``validate_project`` runs the
static checks on a project directory without building it.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CloacinaError, PackageError
from ..findings import Finding, error, has_errors
from ..format.engine import DEFAULT_ENGINE_LIMITS, ENGINE, EngineLimits, detect_format
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import _check_file
from ..model import PayloadKind, Severity
from ..progress import NO_PROGRESS, Progress
from ..trust.policy import TrustPolicy
from ..trust.signatures import SignatureVerdict
from .checks import host, members, metadata, native, scan, signatures, wheel, workflow

if TYPE_CHECKING:
    from ..trust.provenance import ProvenanceVerdict


@dataclass(frozen=True)
class ValidationPolicy:
    """What to check and how hard. The loader passes its own; the CLI uses the default."""

    limits: Limits = DEFAULT_LIMITS
    check_host: bool = True       # wheel tags and requires-python against this interpreter
    check_wheel: bool = True      # RECORD, entry names, rediscovery of the tasks
    trust: TrustPolicy = field(default_factory=TrustPolicy)  # how signatures are judged
    engine_limits: EngineLimits = DEFAULT_ENGINE_LIMITS  # engine archives (bzip2 source)


@dataclass
class ValidationReport:
    path: str
    kind: str  # "package", "engine" (an engine archive) or "project"
    findings: list[Finding] = field(default_factory=list)
    digest: str | None = None
    name: str | None = None
    version: str | None = None
    signatures: list[SignatureVerdict] = field(default_factory=list)
    verified_by: list[str] = field(default_factory=list)  # trusted signers that counted
    archive_digest: str | None = None  # sha256 of the bytes before the trailer, when computed
    verification: bool = False  # made by verify_package: the JSON says whether it verified
    file_sha256: str | None = None  # sha256 of the whole file, when the pass computed it
    provenance: ProvenanceVerdict | None = None  # FILE.intoto.jsonl, when it was required

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def to_dict(self) -> dict[str, Any]:
        out = {"ok": self.ok, "path": self.path, "kind": self.kind, "valid": self.ok,
               "package": {"name": self.name, "version": self.version},
               "digest": self.digest,
               "errors": len(self.errors), "warnings": len(self.warnings),
               "signatures": [s.to_dict() for s in self.signatures],
               "verified_by": self.verified_by,
               "findings": [f.to_dict() for f in self.findings]}
        if self.verification:
            out["verified"] = self.ok
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out


def validate_path(path: Path | str, policy: ValidationPolicy | None = None, *,
                  progress: Progress = NO_PROGRESS) -> ValidationReport:
    path = Path(path)
    if path.is_dir():
        return validate_project(path, progress=progress)
    return validate_package(path, policy, progress=progress)


def validate_project(path: Path | str, *, progress: Progress = NO_PROGRESS
                     ) -> ValidationReport:
    from ..project.config import inspect_project_config
    from ..project.discover import discover_project

    path = Path(path)
    report = ValidationReport(str(path), "project")
    progress.phase("reading the project")
    project, findings = inspect_project_config(path)
    report.findings += findings
    if project is not None and not has_errors(findings):
        report.name, report.version = project.name, project.version
        progress.phase("discovering tasks")
        report.findings += discover_project(project).findings
    return report


def validate_package(path: Path | str, policy: ValidationPolicy | None = None, *,
                     keep_payload: Path | None = None,
                     shown_as: Path | str | None = None,
                     progress: Progress = NO_PROGRESS) -> ValidationReport:
    """Every check, in one streaming pass. ``keep_payload``: when the package is valid,
    move the verified payload there (the loader installs it without a second pass).
    ``shown_as``: the name the report and its findings give the file (``path`` may be a
    private copy, whose name no message should show).  An engine archive (bzip2 source,
    detected by its magic) gets the engine's rules.  ``progress`` hears each step and the
    bytes read."""
    report = _validate_package(Path(path), policy or ValidationPolicy(), keep_payload,
                               progress)
    if shown_as is not None:
        actual, shown = str(path), str(shown_as)
        report.path = shown
        report.findings = [dataclasses.replace(
            f, message=f.message.replace(actual, shown),
            location=f.location.replace(actual, shown) if f.location else f.location)
            for f in report.findings]
    return report


def _validate_package(path: Path, policy: ValidationPolicy, keep_payload: Path | None,
                      progress: Progress) -> ValidationReport:
    if path.is_file() and detect_format(path) == ENGINE:
        return _validate_engine(path, policy, progress)
    report = ValidationReport(str(path), "package")
    try:
        _check_file(path)
    except PackageError as exc:
        report.findings.append(error(exc.code, exc.message))
        return report
    trust = policy.trust
    with tempfile.TemporaryDirectory(prefix="cloacina-validate-") as private:
        progress.phase("reading the package")
        found = scan.scan_package(path, policy.limits, Path(private), raw_digests=(
            trust.require_signature or trust.detached is not None), progress=progress)
        run_checks(found, policy, report, progress)
        if keep_payload is not None and report.ok and found.payload_file is not None:
            shutil.move(found.payload_file, keep_payload)
    report.findings.sort(key=lambda f: (f.severity is not Severity.ERROR, f.code,
                                        f.location or "", f.message))
    return report


def _validate_engine(path: Path, policy: ValidationPolicy, progress: Progress
                     ) -> ValidationReport:
    from .engine import validate_engine

    found = validate_engine(path, policy.engine_limits, trust=policy.trust, progress=progress)
    report = ValidationReport(str(path), "engine", found.findings, name=found.name,
                              version=found.version)
    if found.signatures is not None:
        outcome = found.signatures.outcome
        report.signatures, report.verified_by = outcome.signatures, outcome.verified
        report.digest = found.signatures.digest
        report.archive_digest = found.signatures.archive_digest
        report.file_sha256 = found.signatures.file_digest
    report.findings.sort(key=lambda f: (f.severity is not Severity.ERROR, f.code,
                                        f.location or "", f.message))
    return report


def run_checks(found: scan.Scan, policy: ValidationPolicy, report: ValidationReport,
               progress: Progress = NO_PROGRESS) -> None:
    """Every family of checks over what the pass found, into ``report``."""
    report.findings += found.findings
    report.digest = found.digest
    m = found.manifest
    if m is None:
        return
    report.name, report.version = m.package.name, m.package.version
    report.findings += metadata.consistency_findings(m, found.metadata)
    if found.complete:
        report.findings += members.member_findings(m, found.seen)
        if m.payload.path not in found.seen:
            found.payload_file = None
        if policy.check_wheel and found.payload_file is not None:
            progress.phase("checking the payload")
            report.findings += native.native_findings(m, found.payload_file) \
                if m.payload.kind is PayloadKind.NATIVE else \
                wheel.wheel_findings(m, found.payload_file, policy.limits)
        if signatures.needs_judging(found, policy.trust):
            outcome = signatures.signature_outcome(found, m, policy.trust, progress)
            report.findings += outcome.findings
            report.signatures, report.verified_by = outcome.signatures, outcome.verified
            report.archive_digest, report.file_sha256 = found.archive_digest, found.file_digest
    report.findings += workflow.workflow_findings(m.workflow)
    if policy.check_host:
        report.findings += host.host_findings(m)


def verify_package(path: Path | str, policy: TrustPolicy,
                   limits: Limits = DEFAULT_LIMITS, *,
                   keep_payload: Path | None = None,
                   progress: Progress = NO_PROGRESS) -> ValidationReport:
    """Validate with a trusted signature required; then the build provenance, when the
    policy requires it (``FILE.intoto.jsonl``: signed by a trusted key, about these very
    bytes); then the anti-rollback check, if any."""
    from ..trust.policy import check_rollback, require

    report = validate_package(path, ValidationPolicy(limits=limits, trust=require(policy)),
                              keep_payload=keep_payload, progress=progress)
    report.verification = True
    if policy.provenance is not None:
        from ..trust.provenance import verify_attestation

        progress.phase("verifying the provenance")
        report.provenance = verify_attestation(path, policy.trust, sha256=report.file_sha256,
                                               attestation=policy.provenance, now=policy.now)
        report.findings += report.provenance.findings
    if report.ok and policy.state_file is not None:
        refused = check_rollback(Path(policy.state_file), report.name or "",
                                 report.version or "", allow=policy.allow_rollback)
        if refused:
            report.findings.append(refused)
    return report


def ensure_valid(path: Path | str, policy: ValidationPolicy | None = None
                 ) -> ValidationReport:
    """Validate and raise :class:`PackageError` with every error finding if invalid."""
    report = validate_package(path, policy)
    if not report.ok:
        raise PackageError(f"{path} failed validation", code="invalid",
                           findings=report.errors)
    return report


__all__ = ["ValidationPolicy", "ValidationReport", "validate_package", "validate_project",
           "validate_path", "verify_package", "ensure_valid", "CloacinaError"]
