"""The registered tasks against the declared ones (the loader's drift check, part one:
ids, dependencies and ``module:qualname``; fingerprints are the loader's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..findings import Finding, error
from ..model import Task
from .cloaca_compat import Registry


def registry_drift(registry: Registry, declared: dict[str, Task]
                    ) -> tuple[list[Finding], dict[str, Callable[..., Any]]]:
    """What the compatible ``cloaca`` recorded against the manifest: ids, edges, names."""
    out = [error("drift", f"task '{dup}' was registered twice at import")
           for dup in registry.duplicates]
    registered = registry.tasks
    for task_id in sorted(declared.keys() - registered.keys()):
        out.append(error("drift", f"task '{task_id}' is in the manifest but was not "
                         "registered when the package was imported"))
    for task_id in sorted(registered.keys() - declared.keys()):
        out.append(error("drift", f"task '{task_id}' was registered at import but is not "
                         "in the manifest"))
    functions: dict[str, Callable[..., Any]] = {}
    for tid, reg in registered.items():
        task = declared.get(tid)
        if task is None:
            continue
        functions[tid] = reg.function
        if sorted(reg.dependencies) != sorted(task.dependencies):
            out.append(error("drift", f"task '{tid}' was registered with dependencies "
                             f"{sorted(reg.dependencies)}, the manifest says "
                             f"{sorted(task.dependencies)}"))
        if reg.qualified_name != task.function:
            out.append(error("drift", f"task '{tid}' is {reg.qualified_name} at run time, "
                             f"{task.function} in the manifest"))
    return out, functions


def resolved_functions(declared: dict[str, Task], function: Callable[[str], Callable[..., Any]]
                       ) -> tuple[list[Finding], dict[str, Callable[..., Any]]]:
    """With the real ``cloaca`` (whose registry is not ours to read): each task's function
    looked up by its ``module:qualname``."""
    out: list[Finding] = []
    functions: dict[str, Callable[..., Any]] = {}
    for tid in declared:
        try:
            functions[tid] = function(tid)
        except (AttributeError, ImportError) as exc:
            out.append(error("drift", f"task '{tid}': {exc}"))
    return out, functions
