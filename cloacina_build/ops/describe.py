"""``describe``: one typed view of a workflow, whatever holds it.

A package of this tool's format (its head alone), an engine archive (its head when this
tool wrote it, else one bounded pass and static discovery) or a project directory (static
discovery, nothing built) all become a :class:`Description`: the package identity, the
typed :class:`~cloacina_build.model.Workflow`, the payload, native facts, build facts and
signatures.  ``diff`` and ``graph`` work on it, so both accept either format or a project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProjectError, UsageError
from ..findings import Severity
from ..format.manifest import digest as manifest_digest
from ..model import (
    BuildInfo,
    Language,
    NativeFacts,
    PackageInfo,
    Payload,
    Workflow,
)
from ..project.graph import execution_levels
from ..trust.signatures import SignatureVerdict

if TYPE_CHECKING:  # pragma: no cover (the engine reader is imported for engine packages)
    from .engine import EngineInspection

PROJECT, CLOACINA, ENGINE = "project", "cloacina", "engine"
# what each kind is called in text for people
KIND_NAMES = {PROJECT: "project", CLOACINA: "package", ENGINE: "engine archive"}


@dataclass(frozen=True)
class Description:
    """A workflow and what holds it.  ``payload``, ``digest`` and ``file_size`` are
    ``None`` for a project (nothing is built); ``build`` (and ``digest``, the sha256 of
    the build manifest) is ``None`` for a project and for an engine archive this tool did
    not write."""

    path: str
    kind: str                               # PROJECT, CLOACINA or ENGINE
    package: PackageInfo
    workflow: Workflow
    payload: Payload | None
    native: NativeFacts | None
    build: BuildInfo | None
    digest: str | None                      # sha256 of the (build) manifest
    file_size: int | None
    signatures: tuple[SignatureVerdict, ...]

    @property
    def levels(self) -> list[list[str]]:
        return execution_levels(self.workflow.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "package": self.package.to_dict(),
                "workflow": self.workflow.to_dict(),
                "payload": self.payload.to_dict() if self.payload else None,
                "native": self.native.to_dict() if self.native else None,
                "build": self.build.to_dict() if self.build else None,
                "digest": self.digest, "file_size": self.file_size,
                "signatures": [s.to_dict() for s in self.signatures]}


def describe_path(path: Path | str) -> Description:
    """The workflow at ``path``: a package file of either format, or a project directory.
    Raises :class:`UsageError` for a path that is neither, :class:`ProjectError` for a
    project with errors and :class:`PackageError` for a package that cannot be read."""
    p = Path(path)
    if p.is_dir():
        return describe_project(p)
    if not p.exists():
        raise UsageError(f"{path}: no such file or directory", code="os-error",
                         hint="give a .cloacina package or a project directory")
    from .inspect import Inspection, inspect

    info = inspect(p)
    if isinstance(info, Inspection):
        m = info.manifest
        return Description(str(path), CLOACINA, m.package, m.workflow, m.payload, m.native,
                           m.build, info.digest, info.file_size, tuple(info.signatures))
    return _engine(str(path), info)


def _engine(path: str, info: EngineInspection) -> Description:
    from .engine import engine_payload

    archive = info.archive
    pkg = info.package
    package = PackageInfo(name=pkg["name"], version=pkg["version"],
                          language=_language(pkg["language"]),
                          description=pkg["description"], author=pkg["author"],
                          requires_python=pkg["requires_python"])
    built = info.built  # parsed already when only the head was read
    payload, build = (built.payload, built.build) if built is not None else \
        engine_payload(archive)
    head = archive.build_manifest
    digest = manifest_digest(head) if build is not None and head is not None else None
    return Description(path, ENGINE, package, info.workflow, payload, None, build, digest,
                       archive.file_size, tuple(info.signatures))


def _language(value: Any) -> Language:
    try:
        return Language(value)
    except ValueError:
        return Language.PYTHON


def describe_project(path: Path) -> Description:
    """A project directory, discovered statically with the graph checked; nothing is built
    and none of its code runs."""
    import shlex

    from ..project.config import inspect_project_config
    from ..project.discover import discover_project
    from ..project.workflow import package_info, workflow_of

    hint = f"run 'cloacinactl validate {shlex.quote(str(path))}' to see every problem"
    try:
        project, findings = inspect_project_config(path)
    except ProjectError as exc:  # 'package.toml: invalid TOML': name the project too
        if str(path) in exc.message:
            raise
        raise ProjectError(f"{path}: {exc.message}", code=exc.code, hint=exc.hint,
                           findings=exc.findings) from None
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if project is None or errors:
        raise ProjectError(f"{path}: the project's configuration has problems",
                           code=(errors or findings)[0].code if findings else "project",
                           findings=errors or findings, hint=hint)
    found = discover_project(project)
    errors = [f for f in found.findings if f.severity is Severity.ERROR]
    if errors:
        raise ProjectError(f"{path}: workflow '{project.metadata['workflow_name']}' has "
                           "problems", code=errors[0].code, findings=errors, hint=hint)
    return Description(str(path), PROJECT, package_info(project, project.version or ""),
                       workflow_of(project, found), None, None, None, None, None, ())
