"""Discover a project's workflow statically, whatever its language, with the graph checked.

The one entry point that ``package``, ``validate PROJECT`` and ``cloacina_build.testing``
share: Python sources are read by :mod:`.discovery`, Rust crates by :mod:`.rust`.
"""

from __future__ import annotations

from ..findings import error, has_errors
from .config import CARGO, Project
from .discovery import Discovery, discover
from .graph import graph_findings
from .sources import DiskTree


def discover_project(project: Project) -> Discovery:
    """Static discovery over the project's own source, with the graph checked."""
    if project.layout == CARGO:
        return discover_crate_project(project)
    tree = DiskTree(project.source_root, shown_from=project.root)
    found = discover(tree, project.entry_module, project.workflow_name)
    if not has_errors(found.findings):
        found.findings += graph_findings(found.tasks, project.workflow_name,
                                         display=tree.display)
    return found


def discover_crate_project(project: Project) -> Discovery:
    """A Rust crate's ``#[workflow]``; the project's workflow name and entry module follow
    what the source declares (a contradicting configured name is a finding)."""
    from .rust import discover_crate  # Rust crates only: keeps startup lean

    found = discover_crate(project.source_root, project.root)
    result = Discovery(tasks=list(found.tasks), findings=list(found.findings))
    if found.workflow is not None and found.module is not None:
        configured = project.metadata.get("workflow_name")
        if project.cargo.get("workflow_name_set") and configured != found.workflow:
            result.findings.append(error(
                "config-workflow-name", f"[package.metadata.cloacina] workflow_name is "
                f"'{configured}' but #[workflow] says '{found.workflow}'", "Cargo.toml"))
        project.metadata["workflow_name"] = found.workflow
        if not project.cargo.get("entry_module_set"):
            project.metadata["entry_module"] = found.module
        result.modules = [found.module]
    if not has_errors(result.findings):
        result.findings += graph_findings(result.tasks, project.metadata["workflow_name"])
    return result
