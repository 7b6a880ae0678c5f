"""``inspect_package``: what a package holds, read from its head alone.

Only ``package.toml``, ``manifest.json`` and the signature trailer are read, so the cost
does not grow with the payload.  Nothing is verified here (that is ``validate``); values
are taken defensively so a hostile manifest gives a clear error, not a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import PackageError
from ..project.graph import execution_levels
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import Package, open_package
from ..trust.store import TrustStore
from ..trust.policy import describe_signatures


def _typed(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind):
        raise PackageError(f"manifest.json is malformed: {what} has the wrong type "
                           "(run 'cloacinactl validate' for details)", code="schema-manifest")
    return value


def inspect_package(path: Path | str, limits: Limits = DEFAULT_LIMITS, *,
                    trust: TrustStore | None = None) -> dict[str, Any]:
    return describe(open_package(path, limits), trust)


def describe(pkg: Package, trust: TrustStore | None = None) -> dict[str, Any]:
    m = _typed(pkg.manifest, dict, "the manifest")
    package = _typed(m.get("package"), dict, "package")
    workflow = _typed(m.get("workflow"), dict, "workflow")
    payload = _typed(m.get("payload"), dict, "payload")
    tasks = _typed(workflow.get("tasks"), list, "workflow.tasks")
    out_tasks = []
    for task in tasks:
        _typed(task, dict, "a task")
        deps = _typed(task.get("dependencies", []), list, "task dependencies")
        out_tasks.append({
            "id": str(task.get("id")),
            "function": str(task.get("function")),
            "dependencies": [str(d) for d in deps],
            "retry": _typed(task.get("retry") or {}, dict, "task retry"),
            "trigger_rules": task.get("trigger_rules"),
            "is_async": bool(task.get("is_async")),
            "doc": task.get("doc"),
            "source": task.get("source"),
            "fingerprint": str(task.get("fingerprint")),
        })
    members = _typed(m.get("members", []), list, "members")
    return {
        "path": str(pkg.path),
        "format_version": m.get("format_version"),
        "package": {
            "name": package.get("name"),
            "version": package.get("version"),
            "language": package.get("language"),
            "description": package.get("description"),
            "author": package.get("author"),
            "requires_python": package.get("requires_python"),
        },
        "workflow": {
            "name": workflow.get("name"),
            "entry_module": workflow.get("entry_module"),
            "fingerprint": workflow.get("fingerprint"),
            "levels": execution_levels(out_tasks),
        },
        "tasks": out_tasks,
        "triggers": _records(workflow.get("triggers", []), "workflow.triggers"),
        "params": _records(workflow.get("params", []), "workflow.params"),
        "secrets": [str(s) for s in _typed(workflow.get("secrets", []), list,
                                           "workflow.secrets")],
        "payload": {**{k: payload.get(k) for k in ("kind", "filename", "size", "sha256")},
                    "tags": [str(t) for t in _typed(payload.get("tags", []), list,
                                                    "payload.tags")]},
        "sizes": {
            "file": pkg.file_size,
            "members": {str(e.get("path")): e.get("size") for e in members
                        if isinstance(e, dict)},
            "manifest": len(pkg.manifest_bytes),
        },
        "native": m.get("native") if isinstance(m.get("native"), dict) else None,
        "build": m.get("build"),
        "digest": pkg.digest,
        "signatures": describe_signatures(str(package.get("name")),
                                          str(package.get("version")), pkg.digest,
                                          pkg.signature_members, trust),
    }


def _records(value: Any, what: str) -> list[dict[str, Any]]:
    return [_typed(item, dict, f"an item of {what}") for item in _typed(value, list, what)]
