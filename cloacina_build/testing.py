"""Run a workflow project's tasks from source, in its own pytest suite, without building.

    from cloacina_build.testing import run_workflow

    def test_pipeline():
        result = run_workflow(".", {"region": "eu"})
        assert result.status == "completed", result.failed
        assert result.context["final_report"]["success_rate"] == "95%"

The project is read and its tasks discovered statically, exactly as ``cloacinactl package``
does; its modules are imported privately with the compatible ``cloaca`` module, the
registrations are checked against the discovery, and the tasks run with the same executor
as ``cloacinactl run``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ProjectError
from .findings import has_errors
from .model import Workflow
from .runtime.runner import Event, ParamError, RunResult, run_tasks

__all__ = ["Event", "ParamError", "RunResult", "load_source", "run_loaded", "run_workflow"]


def load_source(project_dir: Path | str = "."):
    """The project as a loaded package (no build, no cache): tasks, params, modules."""
    from .project.config import load_project
    from .project.discover import discover_project
    from .runtime.cloaca_compat import Registry, make_module
    from .runtime.isolation import PackageImporter
    from .runtime.loader import DriftError, LoadedPackage, drift_findings

    project = load_project(Path(project_dir))
    found = discover_project(project)
    if has_errors(found.findings):
        raise ProjectError(f"workflow '{project.workflow_name}' has problems",
                           code="workflow", findings=found.findings)
    workflow = _typed_workflow(project, found)
    roots = [project.source_root] + ([project.vendor_dir] if project.vendor_dir else [])
    registry = Registry()
    importer = PackageImporter(roots, {"cloaca": make_module(registry)},
                               label=f"{project.name} (source)")
    loaded = LoadedPackage(project.name, project.version or "0", "source", workflow,
                           importer, registry, None)
    importer.import_module(project.entry_module)
    drift = drift_findings(loaded)
    if drift:
        loaded.unload()
        raise DriftError("the registered tasks differ from what the source declares",
                         findings=drift)
    return loaded


def _typed_workflow(project, found) -> Workflow:
    """What discovery found, as the :class:`Workflow` the runner runs (unfingerprinted)."""
    return Workflow(name=project.workflow_name, entry_module=project.entry_module,
                    fingerprint="", fingerprint_algorithm="",
                    tasks=tuple(sorted(found.tasks, key=lambda t: t.id)),
                    triggers=tuple(sorted(found.triggers, key=lambda t: t.name)),
                    params=tuple(sorted(found.params, key=lambda p: p.name)),
                    secrets=tuple(sorted(found.secrets)))


def run_workflow(project_dir: Path | str = ".", context: dict[str, Any] | None = None, *,
                 on_event: Callable[[Event], None] | None = None,
                 sleep: Callable[[float], None] | None = None) -> RunResult:
    """Run the project's workflow from source, with the executor of
    :func:`cloacina_build.runtime.runner.run_tasks`.

    ``sleep`` replaces the pause between retries (pass ``lambda s: None`` in fast tests).
    """
    with load_source(project_dir) as loaded:
        return run_loaded(loaded, context, on_event=on_event, sleep=sleep)


def run_loaded(loaded, context: dict[str, Any] | None = None, *,
               on_event: Callable[[Event], None] | None = None,
               sleep: Callable[[float], None] | None = None) -> RunResult:
    """Run an already loaded package (from ``load_package`` or ``load_source``)."""
    import time

    wf = loaded.workflow
    return run_tasks(wf.name, wf.tasks, loaded.function, context, params=wf.params,
                     on_event=on_event, sleep=sleep or time.sleep)
