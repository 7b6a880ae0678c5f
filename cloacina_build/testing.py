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

from . import rulebook
from .errors import ProjectError
from .findings import has_errors
from .model import MISSING, Param, SourceLocation, Task, Trigger, TriggerKind, Workflow
from .runtime.runner import Event, ParamError, RunResult, run_tasks

__all__ = ["Event", "ParamError", "RunResult", "load_source", "run_loaded", "run_workflow"]


def load_source(project_dir: Path | str = "."):
    """The project as a loaded package (no build, no cache): tasks, params, modules."""
    from .build.builder import discover_project
    from .project.config import load_project
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


# TODO(merge): discovery returns dicts on this branch and typed model objects after the
# typed-discovery branch is merged; this is the one boundary that accepts either.  Once
# discovery is typed everywhere, keep only the model path (and drop _where, _task,
# _trigger and _param below, which exist only for the dicts).
def _typed_workflow(project, found) -> Workflow:
    """What discovery found, as the typed :class:`Workflow` the runner runs."""
    try:
        tasks = tuple(sorted((t if isinstance(t, Task) else _task(t) for t in found.tasks),
                             key=lambda t: t.id))
        triggers = tuple(t if isinstance(t, Trigger) else _trigger(t) for t in found.triggers)
        params = tuple(p if isinstance(p, Param) else _param(p) for p in found.params)
    except rulebook.RuleViolation as exc:
        raise ProjectError(f"workflow '{project.workflow_name}': {exc.message}",
                           code=exc.code) from None
    return Workflow(name=project.workflow_name, entry_module=project.entry_module,
                    fingerprint="", fingerprint_algorithm="", tasks=tasks,
                    triggers=tuple(sorted(triggers, key=lambda t: t.name)),
                    params=tuple(sorted(params, key=lambda p: p.name)),
                    secrets=tuple(sorted(found.secrets)))


def _where(record: dict[str, Any]) -> SourceLocation:
    source = record.get("source") or {}
    return SourceLocation(str(source.get("file", "?")), int(source.get("line", 0)))


def _task(record: dict[str, Any]) -> Task:
    rule = record.get("trigger_rules")
    return Task(id=rulebook.task_id(record["id"]),
                function=rulebook.function_ref(record["function"]),
                dependencies=rulebook.dependencies(record.get("dependencies", [])),
                retry=rulebook.retry(record.get("retry") or {}),
                trigger_rules=rulebook.trigger_rule(rule) if rule is not None else None,
                is_async=bool(record.get("is_async")), doc=record.get("doc"),
                source=_where(record), fingerprint=str(record.get("fingerprint", "")))


def _trigger(record: dict[str, Any]) -> Trigger:
    return Trigger(name=record["name"], function=record["function"], on=record["on"],
                   kind=TriggerKind(record["kind"]), schedule=record["schedule"],
                   options=dict(record.get("options") or {}), source=_where(record))


def _param(record: dict[str, Any]) -> Param:
    return rulebook.param(record["name"], record["type"], _where(record),
                          MISSING if record.get("required") else record.get("default"))


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
