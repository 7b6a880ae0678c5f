"""Validation: every check a server runs before it trusts a package, as findings.

``validate_package`` streams the archive once.  The payload is copied (while it is hashed)
into a private temporary directory, the only place anything is written, and removed
afterwards.  Structural problems stop the stream (what follows cannot be trusted); content
problems are all collected.  ``validate_project`` runs the static checks on a project
directory without building it.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..format import manifest as mf
from ..format.archive import DEFAULT_MTIME, TarStream, check_framing
from ..errors import CloacinaError, PackageError
from ..findings import Finding, error, has_errors, warning
from ..project.fingerprint import workflow_fingerprint
from ..project.graph import graph_findings
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import _check_file, parse_package_toml
from ..format.schemas import schema_findings
from ..trust.policy import (
    SignatureCheck,
    TrustPolicy,
    signature_findings,
    trailer_is_canonical,
)
from ..format.wheel import (
    ZIP_ERRORS,
    comparable,
    discover_in_wheel,
    parse_name,
    record_findings,
    same_name,
    structure_findings,
)


@dataclass(frozen=True)
class ValidationPolicy:
    """What to check and how hard. The loader passes its own; the CLI uses the default."""

    limits: Limits = DEFAULT_LIMITS
    check_host: bool = True       # wheel tags and requires-python against this interpreter
    check_wheel: bool = True      # RECORD, entry names, rediscovery of the tasks
    trust: TrustPolicy = field(default_factory=TrustPolicy)  # how signatures are judged


@dataclass
class ValidationReport:
    path: str
    kind: str  # "package" or "project"
    findings: list[Finding] = field(default_factory=list)
    digest: str | None = None
    name: str | None = None
    version: str | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)
    verified_by: list[str] = field(default_factory=list)  # trusted signers that counted
    archive_digest: str | None = None  # sha256 of the bytes before the trailer, when computed

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "valid": self.ok,
                "package": {"name": self.name, "version": self.version},
                "digest": self.digest,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "signatures": self.signatures, "verified_by": self.verified_by,
                "findings": [f.to_dict() for f in self.findings]}


def validate_path(path: Path | str, policy: ValidationPolicy | None = None) -> ValidationReport:
    path = Path(path)
    if path.is_dir():
        return validate_project(path)
    return validate_package(path, policy)


def validate_project(path: Path | str) -> ValidationReport:
    from ..build.builder import discover_project
    from ..project.config import inspect_project_config

    path = Path(path)
    report = ValidationReport(str(path), "project")
    project, findings = inspect_project_config(path)
    report.findings += findings
    if project is not None and not has_errors(findings):
        report.name, report.version = project.name, project.version
        report.findings += discover_project(project).findings
    return report


def validate_package(path: Path | str, policy: ValidationPolicy | None = None, *,
                     keep_payload: Path | None = None) -> ValidationReport:
    """Every check, in one streaming pass. ``keep_payload``: when the package is valid,
    move the verified payload there (the loader installs it without a second pass)."""
    policy = policy or ValidationPolicy()
    path = Path(path)
    report = ValidationReport(str(path), "package")
    try:
        _check_file(path)
    except PackageError as exc:
        report.findings.append(error(exc.code, exc.message))
        return report
    with tempfile.TemporaryDirectory(prefix="cloacina-validate-") as private:
        validation = _Validation(path, policy, report, Path(private))
        validation.run()
        if keep_payload is not None and report.ok and validation.payload_file is not None:
            shutil.move(validation.payload_file, keep_payload)
    report.findings.sort(key=lambda f: (f.severity != "error", f.code, f.location or "",
                                        f.message))
    return report


class _Validation:
    def __init__(self, path: Path, policy: ValidationPolicy, report: ValidationReport,
                 private: Path) -> None:
        self.path, self.policy, self.report, self.private = path, policy, report, private
        self.limits = policy.limits
        self.seen: dict[str, tuple[int, str]] = {}  # member -> (size, sha256)
        self.manifest: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.payload_file: Path | None = None
        self.complete = False
        self.frames: list = []
        self.signature_members: list[tuple[str, bytes]] = []
        self.archive_digest: str | None = None
        self.file_digest: str | None = None

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def run(self) -> None:
        try:
            self._stream()
            self.complete = True
        except PackageError as exc:
            self.add(error(exc.code, exc.message))
        if not self.manifest:
            return
        self._check_consistency()
        if self.complete:
            self._check_members()
            if self.policy.check_wheel and self.payload_file is not None:
                if self.manifest["payload"]["kind"] == "native":
                    self._check_native()
                else:
                    self._check_wheel()
            self._check_signatures()
        self._check_workflow()
        if self.policy.check_host:
            self._check_host()

    # ----------------------------------------------------------- one pass
    def _stream(self) -> None:
        with open(self.path, "rb") as fh:
            frames = check_framing(fh)
            stream = TarStream(fh, self.limits, frames=frames,
                               hash_raw=self._needs_raw_digests(fh, frames))
            self.frames = stream.frames
            from ..format.package import read_head

            toml_bytes, manifest_bytes = read_head(stream, self.limits)
            self._read_metadata(toml_bytes, manifest_bytes)
            payload_path = self.manifest.get("payload", {}).get("path") \
                if isinstance(self.manifest.get("payload"), dict) else None
            after_payload = False
            for member in stream:
                if member.name.startswith(mf.SIGNATURE_DIR):
                    data = member.read_all(self.limits.max_metadata_size)
                    self._signature(member.name, data, after_payload)
                    continue
                if member.name == payload_path and self.payload_file is None:
                    base = member.name.rsplit("/", 1)[-1]
                    self.payload_file = self.private / (
                        base if base not in ("", ".", "..") else "payload.whl")
                    self.seen[member.name] = _copy_hashed(member, self.payload_file)
                    after_payload = True
                else:
                    self.seen[member.name] = _hash_member(member)
            self.archive_digest, self.file_digest = stream.digests()

    def _needs_raw_digests(self, fh, frames) -> bool:
        """Hash the raw bytes only when a signature will need them: the trailer holds
        signatures (a peek at the small last frame), or the policy asks for them."""
        from ..format.package import read_trailer

        trust = self.policy.trust
        if trust.require_signature or trust.detached is not None:
            return True
        try:
            start = fh.tell()
            members = read_trailer(fh, frames, self.limits)
            fh.seek(start)
        except PackageError:
            fh.seek(0)
            return True  # the full pass will report it; hash anyway
        return bool(members)

    def _read_metadata(self, toml_bytes: bytes, manifest_bytes: bytes) -> None:
        self.seen[mf.PACKAGE_TOML] = (len(toml_bytes), mf.digest(toml_bytes))
        self.report.digest = mf.digest(manifest_bytes)
        try:
            self.metadata = parse_package_toml(toml_bytes)
        except PackageError as exc:
            self.add(error(exc.code, exc.message, mf.PACKAGE_TOML))
        for f in schema_findings(self.metadata, "package", code="schema-package-toml",
                                 location=mf.PACKAGE_TOML) if self.metadata else []:
            self.add(f)
        try:
            manifest = mf.loads(manifest_bytes)
        except PackageError as exc:
            self.add(error(exc.code, exc.message, mf.MANIFEST))
            raise PackageError("cannot check the rest without a manifest",
                               code="manifest-unusable") from None
        problems = schema_findings(manifest, "manifest", code="schema-manifest",
                                   location=mf.MANIFEST)
        for f in problems:
            self.add(f)
        if problems:
            raise PackageError("the manifest does not follow the format; the members "
                               "cannot be checked against it", code="manifest-unusable")
        self.manifest = manifest
        self.report.name = manifest["package"]["name"]
        self.report.version = manifest["package"]["version"]

    def _signature(self, name: str, data: bytes, after_payload: bool) -> None:
        if not after_payload:
            self.add(error("member-order", f"signature {name!r} comes before the payload; "
                           "signatures belong in the trailer", name))
        self.signature_members.append((name, data))

    def _check_signatures(self) -> None:
        policy = self.policy.trust
        if not self.signature_members and not policy.require_signature \
                and policy.detached is None:
            return
        if self.archive_digest is None:  # signatures the trailer peek did not see
            self.archive_digest, self.file_digest = _raw_digests(
                self.path, self.frames[-1].offset if self.frames else 0)
        pkg = self.manifest["package"]
        check = SignatureCheck(
            package=pkg["name"], version=pkg["version"], digest=self.report.digest or "",
            archive=self.archive_digest, members=self.signature_members,
            trailer_ok=self._trailer_is_canonical(), file_sha256=self.file_digest)
        self.report.archive_digest = self.archive_digest
        outcome = signature_findings(check, policy)
        self.report.findings += outcome.findings
        self.report.signatures = outcome.signatures
        self.report.verified_by = outcome.verified

    def _trailer_is_canonical(self) -> bool:
        """The last frame must be exactly what ``sign`` writes for these signatures."""
        epoch = self.manifest["build"].get("source_date_epoch", DEFAULT_MTIME)
        return len(self.frames) >= 2 and trailer_is_canonical(
            self.path, self.frames, self.signature_members, epoch)

    # ----------------------------------------------------------- checks
    def _check_consistency(self) -> None:
        m, meta = self.manifest, self.metadata
        pkg, wf = m["package"], m["workflow"]
        toml_pkg = meta.get("package", {}) if isinstance(meta.get("package"), dict) else {}
        toml_meta = meta.get("metadata", {}) if isinstance(meta.get("metadata"), dict) else {}
        pairs = [("name", toml_pkg.get("name"), pkg["name"]),
                 ("version", toml_pkg.get("version"), pkg["version"]),
                 ("language", toml_meta.get("language"), pkg["language"]),
                 ("workflow_name", toml_meta.get("workflow_name"), wf["name"]),
                 ("entry_module", toml_meta.get("entry_module"), wf["entry_module"])]
        for key, in_toml, in_manifest in pairs:
            if in_toml != in_manifest:
                self.add(error("metadata-mismatch", f"package.toml says {key} = {in_toml!r}"
                               f" but the manifest says {in_manifest!r}", mf.PACKAGE_TOML))
        payload = m["payload"]
        if payload["path"] != mf.PAYLOAD_DIR + payload["filename"]:
            self.add(error("payload-name", f"payload path {payload['path']!r} does not match "
                           f"its file name {payload['filename']!r}", mf.MANIFEST))
        listed = {e["path"]: e for e in m["members"]}
        if listed.get(payload["path"], {}).get("sha256") != payload["sha256"] or \
                listed.get(payload["path"], {}).get("size") != payload["size"]:
            self.add(error("payload-unlisted", "the payload's digest and size must also be "
                           "listed in members", mf.MANIFEST))
        if payload["kind"] == "native":
            native = m.get("native", {})
            if payload["tags"] != [native.get("target")]:
                self.add(error("payload-tags", f"a native payload's tags must be its target "
                               f"[{native.get('target')!r}], not {payload['tags']}",
                               mf.MANIFEST))
            return
        try:
            wheel = parse_name(payload["filename"])
        except ValueError as exc:
            self.add(error("payload-name", str(exc), mf.MANIFEST))
            return
        if not same_name(wheel.name, pkg["name"]) or wheel.version != _norm_version(
                pkg["version"]):
            self.add(error("payload-identity", f"the wheel is {wheel.name} {wheel.version} "
                           f"but the package is {pkg['name']} {pkg['version']}",
                           payload["path"]))
        if wheel.tags != sorted(payload["tags"]):
            self.add(error("payload-tags", f"the wheel's file name has tags {wheel.tags} but "
                           f"the manifest says {sorted(payload['tags'])}", mf.MANIFEST))

    def _check_members(self) -> None:
        listed = {e["path"]: e for e in self.manifest["members"]}
        if mf.MANIFEST in listed:
            self.add(error("member-listed-manifest", "the manifest cannot list itself",
                           mf.MANIFEST))
        for path, entry in sorted(listed.items()):
            if path == mf.MANIFEST:
                continue
            if path not in self.seen:
                self.add(error("member-missing", "listed in the manifest but not in the "
                               "archive", path))
                continue
            size, sha = self.seen[path]
            if size != entry["size"]:
                self.add(error("digest-size-mismatch", f"size is {size} bytes, the manifest "
                               f"says {entry['size']}", path))
            if sha != entry["sha256"]:
                self.add(error("digest-mismatch", f"sha256 is {sha[:16]}..., the manifest "
                               f"says {entry['sha256'][:16]}... (tampered or corrupt)", path))
        for path in sorted(set(self.seen) - set(listed)):
            self.add(error("member-unlisted", "present in the archive but not listed in the "
                           "manifest", path))
        if self.manifest["payload"]["path"] not in self.seen:
            self.payload_file = None

    def _check_wheel(self) -> None:
        where = self.manifest["payload"]["path"]
        assert self.payload_file is not None
        try:
            zf = zipfile.ZipFile(self.payload_file)
        except ZIP_ERRORS as exc:
            self.add(error("wheel-bad-zip", f"the payload is not a readable wheel: {exc}",
                           where))
            return
        with zf:
            problems = structure_findings(zf, self.limits, where)
            for f in problems:
                self.add(f)
            if has_errors(problems):
                return
            for f in record_findings(self.payload_file, where):
                self.add(f)
            wf = self.manifest["workflow"]
            try:
                found = discover_in_wheel(zf, wf["entry_module"], wf["name"])
            except ZIP_ERRORS as exc:
                self.add(error("wheel-bad-zip", f"cannot read the wheel's source: {exc}",
                               where))
                return
        if wf["entry_module"] not in found.modules:  # its parent packages may be there
            self.add(error("tasks-entry-missing", f"entry module '{wf['entry_module']}' is "
                           "not in the wheel", where))
            return
        for f in found.findings:
            self.add(Finding("tasks-rediscovery", f.severity, f.message, f.location))
        self._compare_discovery(found, where)

    def _compare_discovery(self, found, where: str) -> None:
        wf = self.manifest["workflow"]
        declared, actual = comparable(wf["tasks"]), comparable(found.tasks)
        for task_id in sorted(set(declared) | set(actual)):
            if task_id not in actual:
                self.add(error("tasks-drift", f"task '{task_id}' is in the manifest but not "
                               "in the wheel's source", where))
            elif task_id not in declared:
                self.add(error("tasks-drift", f"task '{task_id}' is in the wheel's source but"
                               " not in the manifest", where))
            elif declared[task_id] != actual[task_id]:
                what = [n for n, a, b in zip(("function", "dependencies", "fingerprint"),
                                             declared[task_id], actual[task_id]) if a != b]
                self.add(error("tasks-drift", f"task '{task_id}' differs between the manifest"
                               f" and the wheel's source ({', '.join(what)})", where))
        for key, sort_key in (("triggers", "name"), ("params", "name")):
            if sorted(wf[key], key=lambda x: x[sort_key]) != sorted(
                    (x.to_dict() for x in getattr(found, key)), key=lambda x: x[sort_key]):
                self.add(error("tasks-drift", f"the {key} in the manifest differ from the "
                               "wheel's source", where))
        if sorted(wf["secrets"]) != sorted(found.secrets):
            self.add(error("tasks-drift", "the secrets in the manifest differ from the "
                           "wheel's source", where))

    def _check_native(self) -> None:
        """The library's facts, read again from the binary, against the manifest."""
        from ..format.elf import NativeError, describe_library, embedded_metadata

        where = self.manifest["payload"]["path"]
        try:
            actual = describe_library(self.payload_file)
        except NativeError as exc:
            self.add(error(exc.code, exc.message, where))
            return
        declared = self.manifest["native"]
        for key in sorted(declared):
            if actual.get(key) != declared[key]:
                self.add(error("native-mismatch", f"the library's {key} is "
                               f"{_short(actual.get(key))}, the manifest says "
                               f"{_short(declared[key])}", where))
        meta = embedded_metadata(self.payload_file)
        if meta is not None:
            in_binary = {t.get("id"): sorted(t.get("dependencies", []))
                         for t in meta.get("tasks", []) if isinstance(t, dict)}
            in_manifest = {t["id"]: sorted(t["dependencies"])
                           for t in self.manifest["workflow"]["tasks"]}
            if in_binary != in_manifest:
                self.add(error("tasks-drift", "the task graph embedded in the library differs "
                               "from the manifest", where))

    def _check_workflow(self) -> None:
        wf = self.manifest["workflow"]
        for f in graph_findings(wf["tasks"], wf["name"]):
            self.add(f)
        expected = workflow_fingerprint(wf["name"], wf["tasks"], wf["fingerprint_algorithm"])
        if expected != wf["fingerprint"]:
            self.add(error("workflow-fingerprint", "the workflow fingerprint does not match "
                           "its tasks", mf.MANIFEST))

    def _check_host(self) -> None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.tags import sys_tags

        if self.manifest["payload"]["kind"] == "native":
            from ..format.elf import host_problems

            for problem in host_problems(self.manifest.get("native", {})):
                self.add(warning("host-native", f"this machine cannot load the library: "
                                 f"{problem}"))
            return

        spec = self.manifest["package"].get("requires_python")
        if spec:
            try:
                if platform.python_version() not in SpecifierSet(spec):
                    self.add(warning("host-python", f"requires Python {spec}; this is "
                                     f"Python {platform.python_version()}"))
            except InvalidSpecifier:
                self.add(error("schema-manifest", f"requires_python {spec!r} is not a "
                               "version specifier", mf.MANIFEST))
        tags = set(self.manifest["payload"]["tags"])
        if not tags & {str(t) for t in sys_tags()}:
            self.add(warning("host-tags", "no wheel tag of the payload "
                             f"({', '.join(sorted(tags))}) is supported by this interpreter"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _norm_version(version: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _raw_digests(path: Path, mark: int) -> tuple[str, str]:
    """sha256 of the bytes before ``mark`` and of the whole file, in one read."""
    h = hashlib.sha256()
    prefix = None
    pos = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if prefix is None and pos + len(chunk) >= mark:
                h.update(chunk[: mark - pos])
                prefix = h.hexdigest()
                h.update(chunk[mark - pos:])
            else:
                h.update(chunk)
            pos += len(chunk)
    return prefix if prefix is not None else h.hexdigest(), h.hexdigest()


def _hash_member(member) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    for chunk in member.chunks():
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


def _copy_hashed(member, dest: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(dest, "wb") as out:
        for chunk in member.chunks():
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def verify_package(path: Path | str, policy: TrustPolicy,
                   limits: Limits = DEFAULT_LIMITS, *,
                   keep_payload: Path | None = None) -> ValidationReport:
    """Validate with a trusted signature required; then the anti-rollback check, if any."""
    from ..trust.policy import check_rollback, require

    report = validate_package(path, ValidationPolicy(limits=limits, trust=require(policy)),
                              keep_payload=keep_payload)
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
