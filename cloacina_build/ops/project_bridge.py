"""The one seam between the typed model and the ``project/`` helpers that still take dicts.

``project.graph`` (levels, graph findings), ``project.fingerprint`` (the workflow
fingerprint) and ``project.discovery`` (what a wheel's source declares) are being moved to
the typed model on another branch.  Until they are, the readers in ``ops/`` call them only
through these functions, so the change lands in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Finding
from ..manifest_parser import parse_param, parse_task, parse_trigger
from ..model import Param, Task, Trigger, Workflow
from ..project.fingerprint import workflow_fingerprint
from ..project.graph import execution_levels, graph_findings


def _dicts(tasks: Iterable[Task]) -> list[dict[str, Any]]:
    # TODO(merge): project.graph/fingerprint take typed tasks once the write side lands;
    # then pass ``tasks`` straight through and delete this conversion.
    return [t.to_dict() for t in tasks]


def levels(tasks: Sequence[Task]) -> list[list[str]]:
    """Task ids grouped by execution level (see ``project.graph.execution_levels``)."""
    return execution_levels(_dicts(tasks))


def graph_problems(workflow: Workflow) -> list[Finding]:
    return graph_findings(_dicts(workflow.tasks), workflow.name)


def fingerprint(workflow: Workflow) -> str:
    """The workflow fingerprint its tasks imply (compare with ``workflow.fingerprint``)."""
    return workflow_fingerprint(workflow.name, _dicts(workflow.tasks),
                                workflow.fingerprint_algorithm)


@dataclass(frozen=True)
class Declared:
    """What a discovery found, typed."""

    tasks: tuple[Task, ...]
    triggers: tuple[Trigger, ...]
    params: tuple[Param, ...]
    secrets: tuple[str, ...]


def declared(found: Any) -> Declared:
    """A :class:`~cloacina_build.project.discovery.Discovery`, typed.  Entries discovery
    already yields as model objects pass through; dict entries are read by the manifest
    parser (an entry it refuses is left out, so it shows as drift)."""
    # TODO(merge): once discovery yields model objects, this is a plain field copy.
    return Declared(_typed(found.tasks, Task, parse_task),
                    _typed(found.triggers, Trigger, parse_trigger),
                    _typed(found.params, Param, parse_param),
                    tuple(found.secrets))


def _typed(items: Iterable[Any], kind: type, parse: Any) -> tuple[Any, ...]:
    out = []
    for item in items:
        value = item if isinstance(item, kind) else parse(item)[0]
        if value is not None:
            out.append(value)
    return tuple(out)
