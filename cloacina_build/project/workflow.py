"""A project's workflow and package identity as the typed model, from a discovery.

What ``package`` writes into a manifest and what ``diff``/``graph`` show of a project
directory are the same objects, built here.
"""

from __future__ import annotations

from ..model import Language, PackageInfo, Workflow
from .config import Project
from .discovery import Discovery
from .fingerprint import ALGORITHM, workflow_fingerprint


def workflow_of(project: Project, found: Discovery) -> Workflow:
    meta = project.metadata
    name = meta["workflow_name"]
    algorithm = ALGORITHM
    if meta["language"] == "rust":
        from .rust_lexer import ALGORITHM as algorithm
    tasks = tuple(sorted(found.tasks, key=lambda t: t.id))
    return Workflow(
        name=name, entry_module=meta["entry_module"],
        fingerprint=workflow_fingerprint(name, tasks, algorithm),
        fingerprint_algorithm=algorithm, tasks=tasks,
        triggers=tuple(sorted(found.triggers, key=lambda t: t.name)),
        params=tuple(sorted(found.params, key=lambda p: p.name)),
        secrets=tuple(sorted(found.secrets)))


def package_info(project: Project, version: str) -> PackageInfo:
    meta = project.metadata
    return PackageInfo(name=project.name, version=version, language=Language(meta["language"]),
                       description=meta.get("description"), author=meta.get("author"),
                       requires_python=meta.get("requires_python"))
