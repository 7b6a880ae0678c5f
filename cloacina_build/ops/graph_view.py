"""``graph``: a workflow's task graph as one typed value, for any renderer.

:func:`graph_of` turns a :class:`~cloacina_build.ops.describe.Description` (a package of
either format, or a project directory) into a :class:`Graph`: one node per task with its
marks (a trigger rule that gates it, declared retries), the dependency edges (dependency
-> dependent, the order things run in) and the execution levels.  The renderers in
:mod:`cloacina_build.ops.graph_render` turn it into text, Graphviz ``dot`` or Mermaid
source.  Everything here is linear in tasks + edges (a 10,000-task workflow is a routine
input).

A package is data: its graph may be broken (a cycle, a dependency on a task that does not
exist, a duplicated id).  The graph is still drawn: the first task of a duplicated id is
the node, a dependency on an unknown task is kept on the node as ``missing`` (never drawn
as an edge, which would make a node up), tasks on or behind a cycle have no level (they
are listed as ``unplaced``), and the graph checks' findings come with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..findings import Finding
from ..model import RuleType, Task, Workflow
from ..project.graph import graph_findings, levels_of
from .describe import Description, describe_path
from .rule_words import rule_text

RETRIES, TRIGGER_RULE = "retries", "trigger-rule"   # the marks a node may carry


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A task as the graph shows it.  ``level`` counts from 1 (``None``: unplaced);
    ``retries`` is the declared number of retries after the first try, when above 0;
    ``when`` is the gating trigger rule in words, ``None`` when the task always runs."""

    id: str
    dependencies: tuple[str, ...]           # known tasks only: each is an edge
    missing: tuple[str, ...]                # dependencies naming no task
    level: int | None
    retries: int | None
    when: str | None
    task: Task

    @property
    def marks(self) -> list[str]:
        return ([RETRIES] if self.retries else []) + ([TRIGGER_RULE] if self.when else [])

    def to_dict(self) -> dict[str, Any]:
        rule = self.task.trigger_rules
        return {"id": self.id, "dependencies": list(self.dependencies),
                "missing": list(self.missing), "level": self.level, "marks": self.marks,
                "retries": self.retries, "when": self.when,
                "trigger_rules": rule.to_dict() if rule is not None and self.when else None,
                "is_async": self.task.is_async}


@dataclass(frozen=True, slots=True)
class Graph:
    """A workflow's task graph: ``nodes`` in the workflow's order (sorted by id),
    ``edges`` as ``(dependency, dependent)`` pairs, ``levels`` of ids."""

    path: str
    kind: str                               # "project", "cloacina" or "engine"
    package: str
    version: str
    workflow: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]
    levels: tuple[tuple[str, ...], ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    @property
    def unplaced(self) -> list[str]:
        return [n.id for n in self.nodes if n.level is None]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "kind": self.kind,
                "package": {"name": self.package, "version": self.version},
                "workflow": self.workflow,
                "counts": {"tasks": len(self.nodes), "edges": len(self.edges),
                           "levels": len(self.levels)},
                "nodes": [n.to_dict() for n in self.nodes],
                "edges": [{"from": a, "to": b} for a, b in self.edges],
                "levels": [list(level) for level in self.levels],
                "unplaced": self.unplaced,
                "findings": [f.to_dict() for f in self.findings]}


def graph_path(path: Path | str) -> Graph:
    """The task graph of the package or project at ``path`` (see
    :func:`~cloacina_build.ops.describe.describe_path` for what it accepts and raises)."""
    return graph_of(describe_path(path))


def graph_of(description: Description) -> Graph:
    wf = description.workflow
    tasks = _unique(wf)
    levels = levels_of({t.id: [d for d in t.dependencies if d in tasks]
                        for t in tasks.values()})
    level_of = {tid: i for i, level in enumerate(levels, 1) for tid in level}
    nodes = tuple(_node(t, tasks, level_of.get(t.id)) for t in tasks.values())
    edges = tuple((dep, n.id) for n in nodes for dep in n.dependencies)
    return Graph(description.path, description.kind, description.package.name,
                 description.package.version, wf.name, nodes, edges,
                 tuple(tuple(level) for level in levels),
                 tuple(graph_findings(wf.tasks, wf.name)))


def _unique(wf: Workflow) -> dict[str, Task]:
    """Tasks by id, the first of a duplicated id kept, in the workflow's order."""
    tasks: dict[str, Task] = {}
    for task in wf.tasks:
        tasks.setdefault(task.id, task)
    return tasks


def _node(task: Task, tasks: dict[str, Task], level: int | None) -> GraphNode:
    deps = dict.fromkeys(task.dependencies)      # a hostile manifest may repeat one
    known = tuple(d for d in deps if d in tasks)
    missing = tuple(d for d in deps if d not in tasks)
    rule = task.trigger_rules
    gated = rule is not None and rule.type is not RuleType.ALWAYS
    return GraphNode(task.id, known, missing, level, task.retry.attempts or None,
                     rule_text(rule) if gated else None, task)
