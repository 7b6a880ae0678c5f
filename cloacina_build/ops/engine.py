"""``inspect`` and ``validate`` for the engine's own archives (a bzip2 tar of source).

:func:`inspect_engine` reads only the first two members of an archive this tool wrote
(``package.toml`` and ``.cloacina-build/manifest.json``) and shows the workflow from that
build manifest; any other archive it opens (one bounded pass, nothing written) and
discovers its workflow statically from the source; :func:`validate_engine` runs every engine rule
(``format/engine``), the layout rules, discovery and the graph checks, and, when the
archive carries ``NAME-VERSION/.cloacina-build/manifest.json``, compares the discovered
workflow with that manifest (drift is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import PackageError
from ..findings import Finding, error, warning
from ..format.engine.archive import (
    BUILD_MANIFEST,
    EngineArchive,
    EngineMember,
    describe,
    open_engine,
    shown_name,
)
from ..format.engine.discover import discover_engine, layout_findings
from ..format.engine.head import EngineHead, read_head
from ..format.engine.manifest import read_manifest
from ..format.engine.rules import (
    DEFAULT_ENGINE_LIMITS,
    FILE,
    EngineLimits,
    clean,
    name_version_findings,
)
from ..format.engine.trailer import BUILD_DIR, ends_unsigned
from ..format.manifest import PACKAGE_TOML, VENDOR_DIR, source_digest
from ..model import BuildInfo, Manifest, Member, Payload, PayloadKind, Severity, Workflow
from ..progress import NO_PROGRESS, Progress
from ..project.graph import execution_levels
from ..trust.policy import TrustPolicy, sidecar
from ..trust.signatures import SignatureVerdict
from ..trust.store import TrustStore
from .checks.engine_signatures import EngineSignatures, engine_signatures, needs_judging
from .checks.wheel import drift_findings
from .checks.workflow import workflow_findings

FORMAT = "engine"
FROM_SOURCE = "source"                # inspect discovered the tasks from the source
FROM_MANIFEST = "build-manifest"      # inspect read them from .cloacina-build/manifest.json
MANIFEST_NOTE = (f"the tasks come from the build manifest ({BUILD_MANIFEST}), read from the "
                 "archive's first members; 'cloacinactl validate' checks them against the "
                 "source")


@dataclass(frozen=True)
class EngineInspection:
    """An engine archive as ``inspect`` shows it: the container, the manifest's resolved
    view and the workflow discovered from the source."""

    path: str
    archive: EngineArchive
    workflow: Workflow
    levels: list[list[str]]
    findings: list[Finding] = field(default_factory=list)  # every finding, for the record
    signatures: list[SignatureVerdict] = field(default_factory=list)
    tasks_from: str = FROM_SOURCE         # or FROM_MANIFEST: only the head was read
    built: Manifest | None = None         # the build manifest, when it was parsed (head)

    @property
    def package(self) -> dict[str, Any]:
        m = self.archive.manifest
        assert m is not None
        meta = m.metadata
        return {"name": m.name, "version": m.version, "language": m.language,
                "description": meta.get("description"), "author": meta.get("author"),
                "requires_python": meta.get("requires_python")}

    def to_dict(self) -> dict[str, Any]:
        wf, a = self.workflow, self.archive
        container = describe(a)
        return {
            "ok": True,
            "format": FORMAT,
            "path": self.path,
            "package": self.package,
            "workflow": {"name": wf.name, "entry_module": wf.entry_module,
                         "fingerprint": wf.fingerprint, "levels": self.levels},
            "tasks": [t.to_dict() for t in wf.tasks],
            "triggers": [t.to_dict() for t in wf.triggers],
            "params": [p.to_dict() for p in wf.params],
            "secrets": list(wf.secrets),
            "root": container["root"],
            "members": container["members"],
            "sizes": {"file": a.file_size,
                      "members": {shown_name(m.name): m.size for m in a.members}},
            "trailing": container["trailing"],
            "build_manifest": a.build_manifest is not None,
            "loader_ok": a.manifest.loader_ok if a.manifest else False,
            "findings": [f.to_dict() for f in self.findings],
            "signatures": [s.to_dict() for s in self.signatures],
            "tasks_from": self.tasks_from,
            "read": "head" if self.tasks_from == FROM_MANIFEST else "whole",
            "note": self.note,
        }

    @property
    def note(self) -> str | None:
        return MANIFEST_NOTE if self.tasks_from == FROM_MANIFEST else None


def inspect_engine(path: Path | str, trust: TrustStore | None = None, *,
                   progress: Progress = NO_PROGRESS) -> EngineInspection:
    """The engine archive at ``path`` with its workflow; :class:`PackageError` (with the
    findings) when it cannot be read far enough to discover one.  Its signatures (embedded,
    and a ``FILE.sig`` beside it) are listed, each judged in full (the archive is read
    whole anyway), against ``trust`` when given.  An unsigned archive that starts with this
    tool's two members is read no further (:func:`inspect_head`)."""
    head = read_head(path)
    quick = inspect_head(head, shown=str(path)) if head is not None else None
    if quick is not None and not has_signatures(path):
        return quick
    progress.phase("reading the archive")
    archive = open_engine(path, progress=progress)
    progress.phase("discovering tasks")
    found = discover_engine(archive)
    findings = list(archive.findings) + layout_findings(archive) + found.findings
    if found.workflow is None:
        errors = [f for f in findings if f.severity is Severity.ERROR] or [error(
            "engine-manifest", "no workflow could be read from the archive")]
        raise PackageError(f"{path}: cannot read a workflow from this engine archive",
                           code=errors[0].code, findings=errors,
                           hint="'cloacinactl validate' lists every problem")
    policy = TrustPolicy(trust=trust, detached=sidecar(path))
    verdicts = engine_signatures(archive, policy, progress).outcome.signatures \
        if needs_judging(archive, policy) else []
    return EngineInspection(str(path), archive, found.workflow,
                            execution_levels(found.workflow.tasks), findings, verdicts)


def has_signatures(path: Path | str) -> bool:
    """Whether the archive may carry signatures, cheaply: a ``FILE.sig`` beside it, or a
    file that does not end in the unsigned trailer stream ``package --format engine``
    writes (a fixed 42 bytes).  Then ``inspect`` reads the archive whole to list them."""
    return sidecar(path) is not None or not ends_unsigned(Path(path))


def inspect_head(head: EngineHead, limits: EngineLimits = DEFAULT_ENGINE_LIMITS, *,
                 shown: str | None = None) -> EngineInspection | None:
    """The workflow from the build manifest in the archive's head, the members it lists,
    and ``package.toml`` resolved against them; ``None`` when the head does not agree with
    itself (the caller then reads the whole archive)."""
    manifest, _ = Manifest.parse(head.build_manifest)
    if manifest is None or manifest.payload.kind is not PayloadKind.SOURCE:
        return None
    pkg = manifest.package
    listed = [m for m in manifest.members if m.path != "package.toml"]
    files = {m.path for m in listed} | {"package.toml", BUILD_MANIFEST}
    dirs = {f.split("/", 1)[0] for f in files if "/" in f}  # what language inference reads
    em, findings = read_manifest(head.package_toml, files, dirs)
    if em is None or em.resolved is None or head.root != f"{pkg.name}-{pkg.version}" \
            or (em.name, em.version) != (pkg.name, pkg.version) \
            or em.workflow_name not in (None, manifest.workflow.name):
        return None
    findings += name_version_findings(head.root, em.name, em.version)
    if head.file_size > limits.max_upload:
        findings.append(warning("engine-limit-upload", f"the file is {head.file_size} bytes: "
                                f"over the server's {limits.max_upload}-byte upload body "
                                "limit (§2.5)"))
    # the members listed are the two read; the manifest's members list the rest
    archive = EngineArchive(head.path, head.file_size, False, head.root, head.package_toml,
                            em, head.members, MappingProxyType({}), frozenset(),
                            head.build_manifest, None, tuple(clean(findings)))
    wf = manifest.workflow
    return EngineInspection(shown or str(head.path), archive, wf, execution_levels(wf.tasks),
                            list(archive.findings), tasks_from=FROM_MANIFEST, built=manifest)


@dataclass
class EngineValidation:
    findings: list[Finding]
    name: str | None = None
    version: str | None = None
    archive: EngineArchive | None = None    # what was read (the loader unpacks from it)
    workflow: Workflow | None = None        # discovered from the source
    signatures: EngineSignatures | None = None  # when they were judged


def validate_engine(path: Path | str, limits: EngineLimits = DEFAULT_ENGINE_LIMITS, *,
                    trust: TrustPolicy | None = None,
                    progress: Progress = NO_PROGRESS) -> EngineValidation:
    """Every engine rule over the archive at ``path``, then its signatures (embedded in the
    second stream, and ``trust.detached``) judged by ``trust`` when there are any or one
    is required.  ``progress`` hears each step and the bytes read."""
    progress.phase("reading the archive")
    return validate_engine_archive(open_engine(path, limits, progress), trust, progress)


def validate_engine_archive(archive: EngineArchive, trust: TrustPolicy | None = None,
                            progress: Progress = NO_PROGRESS) -> EngineValidation:
    """:func:`validate_engine` over an archive already read (or described by the writer
    that has just written it: :func:`~cloacina_build.format.engine.archive.describe_written`)."""
    out = EngineValidation(list(archive.findings), archive=archive)
    if archive.manifest is not None:
        out.name, out.version = archive.manifest.name, archive.manifest.version
    if archive.complete and archive.manifest is not None:
        progress.phase("discovering tasks")
        out.findings += build_dir_findings(archive) + layout_findings(archive)
        found = discover_engine(archive)
        out.findings += found.findings
        out.workflow = found.workflow
        if archive.build_manifest is not None and found.workflow is not None:
            out.findings += build_manifest_findings(archive, found.workflow, found.discovery)
    trust = trust or TrustPolicy()
    if needs_judging(archive, trust):
        out.signatures = engine_signatures(archive, trust, progress)
        out.findings += out.signatures.outcome.findings
    return out


def build_dir_findings(archive: EngineArchive) -> list[Finding]:
    """Only our manifest belongs under ``.cloacina-build/`` in the first stream: a
    signature record there (moved out of the second stream) is refused."""
    prefix, manifest = f"{archive.root}/{BUILD_DIR}", f"{archive.root}/{BUILD_MANIFEST}"
    return [error("engine-build-member", f"{shown_name(m.name)} is in the first bzip2 "
                  "stream, which the engine reads: only manifest.json belongs under "
                  f"{BUILD_DIR} there (signatures go in the second stream)",
                  shown_name(m.name))
            for m in archive.members if m.name.startswith(prefix) and m.name != manifest][:20]


def build_manifest_findings(archive: EngineArchive, discovered: Workflow,
                            discovery) -> list[Finding]:
    """Our manifest, carried inside the archive, against the source (drift is an error)."""
    where = f"{archive.root}/{BUILD_MANIFEST}"
    manifest, problems = archive.built  # the caller checked there is one
    if manifest is None:
        return [error("engine-build-manifest", f"{BUILD_MANIFEST} is unusable: "
                      f"{p.message}", where) for p in problems[:20]]
    out = []
    pkg, em = manifest.package, archive.manifest
    if em is not None and (pkg.name, pkg.version) != (em.name, em.version):
        out.append(error("metadata-mismatch", f"{BUILD_MANIFEST} names {pkg.name} "
                         f"{pkg.version}, package.toml {em.name} {em.version}", where))
    if manifest.workflow.name != discovered.name:
        out.append(error("tasks-drift", f"the workflow is '{manifest.workflow.name}' in "
                         f"{BUILD_MANIFEST} but '{discovered.name}' in package.toml", where))
    out += workflow_findings(manifest.workflow)
    out += member_findings(archive, manifest, where)
    return out + drift_findings(manifest.workflow, discovery, where)


def source_files(archive: EngineArchive) -> dict[str, EngineMember]:
    """The archive's source: every file under the root but this tool's build directory,
    by root-relative path."""
    prefix = f"{archive.root}/"
    return {m.name[len(prefix):]: m for m in archive.members
            if m.name.startswith(prefix) and m.type == FILE
            and not m.name[len(prefix):].startswith(BUILD_DIR)}


def source_payload(archive: EngineArchive) -> Payload:
    """The source as one payload, with the digest ``package --format engine`` records (an
    archive this tool did not write has no build manifest to read it from)."""
    source = [Member(rel, m.size, m.sha256 or "") for rel, m in source_files(archive).items()
              if rel != PACKAGE_TOML]  # as the builder records it: the digest leaves it out
    return Payload(kind=PayloadKind.SOURCE, path="", filename="source",
                   size=sum(m.size for m in source), sha256=source_digest(source), tags=())


def engine_payload(archive: EngineArchive) -> tuple[Payload, BuildInfo | None]:
    """The archive's payload and build facts: from the build manifest this tool wrote
    into it, when there is one describing a source payload; else the source's own
    payload (:func:`source_payload`) and no build facts."""
    built = archive.built[0]
    if built is not None and built.payload.kind is PayloadKind.SOURCE:
        return built.payload, built.build
    return source_payload(archive), None


def member_findings(archive: EngineArchive, manifest: Manifest, where: str) -> list[Finding]:
    """The manifest's members against the files under the root (sizes and sha256 as they
    streamed past; every file outside ``vendor/`` must be listed), and the source payload's
    digest against the listing of every file, vendored ones included."""
    if manifest.payload.kind is not PayloadKind.SOURCE:
        return [error("engine-build-manifest", f"{BUILD_MANIFEST} describes a "
                      f"{manifest.payload.kind} payload, not the archive's source", where)]
    actual = source_files(archive)
    source = [Member(rel, m.size, m.sha256 or "") for rel, m in actual.items()]
    out = []
    for listed in manifest.members:
        found = actual.pop(listed.path, None)
        if found is None:
            out.append(error("member-missing", f"{listed.path} is listed in {BUILD_MANIFEST} "
                             "but not in the archive", where))
        elif (found.size, found.sha256) != (listed.size, listed.sha256):
            out.append(error("digest-mismatch", f"{listed.path} differs from the sha256 "
                             f"{BUILD_MANIFEST} records for it", where))
    out += [error("member-unlisted", f"{shown_name(name)} is in the archive but not in "
                  f"{BUILD_MANIFEST}", where)
            for name in sorted(actual) if not name.startswith(VENDOR_DIR)][:20]
    if source_digest(source) != manifest.payload.sha256:
        out.append(error("digest-mismatch", "the source's sha256 (every file, vendor/ "
                         f"included) does not match the payload digest {BUILD_MANIFEST} "
                         "records: a file was changed, added or removed", where))
    return out
