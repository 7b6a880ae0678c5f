"""The manifest the builder writes: assembled as the typed model, serialised canonically,
and read back the way every reader reads it before a byte of the package is written.

``checked_manifest`` is the builder's promise that a package it writes validates: its own
bytes must fit the default metadata limits, parse with :meth:`Manifest.parse` (the rule
book's field rules) and pass the graph and fingerprint checks ``validate`` applies.  A
manifest that would be refused stops ``package`` with the findings and nothing is written.
"""

from __future__ import annotations

import hashlib
import platform

from ..__about__ import __version__
from ..errors import BuildError
from ..findings import Finding, error
from ..format import manifest as mf
from ..format.limits import DEFAULT_LIMITS, Limits
from ..model import (
    BuildInfo,
    Manifest,
    Member,
    Payload,
    Workflow,
)
from ..project.config import Project
from ..project.fingerprint import workflow_fingerprint
from ..project.graph import graph_findings
from ..project.workflow import package_info, workflow_of
from .payload import Payload as Built


def assemble(project: Project, built: Built, *, package_toml: bytes, size: int,
             sha256: str, epoch: int, revision: str | None, dirty: bool | None) -> Manifest:
    """The manifest for ``built``, a payload whose bytes hash to ``sha256``."""
    path = mf.PAYLOAD_DIR + built.file.name
    return Manifest(
        package=package_info(project, built.version),
        workflow=workflow_of(project, built.discovery),
        payload=Payload(kind=built.kind, path=path, filename=built.file.name, size=size,
                        sha256=sha256, tags=tuple(built.tags)),
        members=tuple(sorted((Member(mf.PACKAGE_TOML, len(package_toml),
                                     hashlib.sha256(package_toml).hexdigest()),
                              Member(path, size, sha256)), key=lambda m: m.path)),
        build=build_info(built.backend, epoch, revision, dirty),
        native=built.native)


def build_info(backend: str, epoch: int, revision: str | None, dirty: bool | None
               ) -> BuildInfo:
    return BuildInfo(tool="cloacina-build", tool_version=__version__,
                     python=platform.python_version(), backend=backend,
                     source_revision=revision, source_dirty=dirty, source_date_epoch=epoch)


def checked_manifest(manifest: Manifest, package_toml: bytes,
                     limits: Limits | None = None, *, graph_checked: bool = False) -> bytes:
    """The manifest's canonical bytes, after reading them back as a reader would (with
    ``limits``, by default the readers' defaults); raises BuildError (code
    ``manifest-refused``) with the findings otherwise.

    ``graph_checked``: the manifest's tasks already passed the graph checks (discovery ran
    them).  When the bytes read back to exactly that workflow, the graph checks would see
    the very same tasks, so they are not run a second time (the fingerprint always is)."""
    data = manifest.to_json()
    findings = _size_findings(data, package_toml, limits or DEFAULT_LIMITS)
    if not findings:
        parsed, findings = Manifest.parse(data)
        if parsed is not None:
            same = graph_checked and parsed.workflow.tasks == manifest.workflow.tasks
            findings = _workflow_findings(parsed.workflow, graph=not same)
    if findings:
        raise BuildError(
            f"the package would not validate, so nothing was written: {findings[0].message}",
            code="manifest-refused", findings=findings,
            hint="fix the declarations named above (the limits are listed in docs/format.md)")
    return data


def _size_findings(data: bytes, package_toml: bytes, limits: Limits) -> list[Finding]:
    out = []
    if len(data) > limits.max_manifest_size:
        out.append(error("limit-manifest-size", f"the manifest would be {len(data):,} bytes, "
                         f"over the {limits.max_manifest_size:,}-byte limit every reader "
                         "applies (a workflow this size cannot be packaged)", mf.MANIFEST))
    if len(package_toml) > limits.max_metadata_size:
        out.append(error("limit-metadata-size", f"package.toml would be {len(package_toml):,}"
                         f" bytes, over the {limits.max_metadata_size:,}-byte limit",
                         mf.PACKAGE_TOML))
    return out


def _workflow_findings(workflow: Workflow, graph: bool = True) -> list[Finding]:
    out: list[Finding] = graph_findings(workflow.tasks, workflow.name) if graph else []
    expected = workflow_fingerprint(workflow.name, workflow.tasks,
                                    workflow.fingerprint_algorithm)
    if expected != workflow.fingerprint:
        out.append(error("workflow-fingerprint", "the workflow fingerprint does not match "
                         "its tasks", mf.MANIFEST))
    return out
