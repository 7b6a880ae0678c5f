"""The task graph: size, duplicate ids, unknown dependencies, cycles, emptiness, levels.

Every function is linear in the number of tasks and edges (did-you-mean hints are bounded:
only the first ``HINTED`` unknown names get one, each compared with at most
``HINT_CANDIDATES`` ids).  Tasks are the typed model; a plain ``dict`` in the manifest's
JSON form is also accepted, for callers that do not hold the model yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .. import rulebook as rb
from ..errors import did_you_mean
from ..findings import Finding, error
from ..model import Task
from .trigger_rules import rule_task_names

HINTED = 20             # unknown names that get a did-you-mean hint
HINT_CANDIDATES = 2000  # ids each hint is chosen from

TaskLike = Task | Mapping[str, Any]


class _Node(NamedTuple):
    id: str
    dependencies: Sequence[str]
    rule_tasks: list[str]
    file: str
    line: int


def _node(task: TaskLike) -> _Node:
    if isinstance(task, Task):
        return _Node(task.id, task.dependencies,
                     task.trigger_rules.task_names() if task.trigger_rules else [],
                     task.source.file, task.source.line)
    src = task.get("source") or {}
    return _Node(task["id"], task["dependencies"], rule_task_names(task.get("trigger_rules")),
                 src.get("file", "?"), src.get("line", 0))


class _Hints:
    """Bounded did-you-mean: a hostile graph with 10,000 unknown names costs no more than
    one with twenty."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = ids
        self.by_length: dict[int, list[str]] | None = None
        self.given = 0

    def __call__(self, name: str) -> str:
        if self.given >= HINTED:
            return ""
        self.given += 1
        if self.by_length is None:
            self.by_length = {}
            for known in self.ids:
                self.by_length.setdefault(len(known), []).append(known)
        candidates: list[str] = []
        for delta in (0, -1, 1, -2, 2, -3, 3):
            candidates += self.by_length.get(len(name) + delta, [])[:HINT_CANDIDATES]
            if len(candidates) >= HINT_CANDIDATES:
                break
        return did_you_mean(name, candidates[:HINT_CANDIDATES])


def graph_findings(tasks: Sequence[TaskLike], workflow: str,
                   display: Callable[[str], str] | None = None) -> list[Finding]:
    """Every graph problem at once; ``display`` maps a source path for messages."""
    if not tasks:
        return [error("graph-empty", f"workflow '{workflow}' has no tasks: decorate at least "
                      "one function with @cloaca.task in the entry module or a module it "
                      "imports")]
    if len(tasks) > rb.MAX_TASKS:
        return [error("graph-too-large", f"workflow '{workflow}' has {len(tasks)} tasks; a "
                      f"package holds at most {rb.MAX_TASKS}",
                      _location(_node(tasks[rb.MAX_TASKS]), display))]
    nodes = [_node(t) for t in tasks]
    out: list[Finding] = []
    by_id: dict[str, _Node] = {}
    for node in nodes:
        if node.id in by_id:
            out.append(error("graph-duplicate-id", f"task id '{node.id}' is also defined at "
                             f"{_location(by_id[node.id], display)}",
                             _location(node, display)))
        else:
            by_id[node.id] = node
    out += _unknown_names(nodes, by_id, display)
    cycle = find_cycle({n.id: [d for d in n.dependencies if d in by_id]
                        for n in by_id.values()})
    if cycle:
        out.append(error("graph-cycle", "dependency cycle: " + " -> ".join(cycle),
                         _location(by_id[cycle[0]], display)))
    return out


def _unknown_names(nodes: list[_Node], by_id: dict[str, _Node],
                   display: Callable[[str], str] | None) -> list[Finding]:
    out: list[Finding] = []
    hint = _Hints(by_id)
    for node in nodes:
        for dep in node.dependencies:
            if dep not in by_id:
                out.append(error("graph-unknown-dependency", f"task '{node.id}' depends on "
                                 f"unknown task '{dep}'{hint(dep)}",
                                 _location(node, display)))
        for name in node.rule_tasks:
            if name not in by_id:
                out.append(error("graph-unknown-rule-task", f"trigger rule of task "
                                 f"'{node.id}' names unknown task '{name}'{hint(name)}",
                                 _location(node, display)))
    return out


def _location(node: _Node, display: Callable[[str], str] | None = None) -> str:
    return f"{display(node.file) if display else node.file}:{node.line}"


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]`` (task -> its dependency), or None.  Iterative DFS
    in sorted order (so the cycle reported is stable), each edge list sorted once."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {n: WHITE for n in edges}
    ordered = {n: sorted(deps) for n, deps in edges.items()}
    for start in sorted(edges):
        if colour[start] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        on_path = {start: 0}
        colour[start] = GREY
        while stack:
            node, i = stack[-1]
            deps = ordered.get(node, [])
            if i < len(deps):
                stack[-1] = (node, i + 1)
                nxt = deps[i]
                if colour.get(nxt) == GREY:
                    return path[on_path[nxt]:] + [nxt]
                if colour.get(nxt) == WHITE:
                    colour[nxt] = GREY
                    stack.append((nxt, 0))
                    on_path[nxt] = len(path)
                    path.append(nxt)
            else:
                colour[node] = BLACK
                stack.pop()
                del on_path[path.pop()]
    return None


def levels_of(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Kahn's algorithm with a queue: ids grouped by level, each level depending only on
    earlier ones, sorted within a level.  Ids on a cycle or behind an unknown dependency
    are left out (so the levels cover every id exactly when the graph is acyclic and
    closed)."""
    waiting: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    for node, deps in edges.items():
        unique = set(deps)
        waiting[node] = len(unique)
        for dep in unique:
            dependents.setdefault(dep, []).append(node)
    level = sorted(n for n, count in waiting.items() if count == 0)
    levels: list[list[str]] = []
    while level:
        levels.append(level)
        ready: list[str] = []
        for node in level:
            for child in dependents.get(node, ()):
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        level = sorted(ready)
    return levels


def execution_levels(tasks: Sequence[TaskLike]) -> list[list[str]]:
    """Tasks grouped by level: each level depends only on earlier ones (acyclic input)."""
    edges: dict[str, Sequence[str]] = {}
    for task in tasks:  # typed tasks directly (a 50,000-task inspect calls this)
        node = task if isinstance(task, Task) else _node(task)
        edges[node.id] = node.dependencies
    return levels_of(edges)
