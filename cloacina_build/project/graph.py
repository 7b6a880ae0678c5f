"""The task graph: duplicate ids, unknown dependencies, cycles, emptiness, levels."""

from __future__ import annotations

from ..errors import did_you_mean
from ..findings import Finding, error
from .trigger_rules import rule_task_names


def _loc(task: dict, display=None) -> str:
    src = task.get("source", {})
    file = display(src.get("file", "?")) if display else src.get("file", "?")
    return f"{file}:{src.get('line', 0)}"


def graph_findings(tasks: list[dict], workflow: str, display=None) -> list[Finding]:
    """Every graph problem at once; ``display`` maps a source path for messages."""
    if not tasks:
        return [error("graph-empty", f"workflow '{workflow}' has no tasks: decorate at least "
                      "one function with @cloaca.task in the entry module or a module it "
                      "imports")]
    out: list[Finding] = []
    by_id: dict[str, dict] = {}
    for task in tasks:
        if task["id"] in by_id:
            out.append(error("graph-duplicate-id", f"task id '{task['id']}' is also defined "
                             f"at {_loc(by_id[task['id']], display)}", _loc(task, display)))
        else:
            by_id[task["id"]] = task
    for task in tasks:
        for dep in task["dependencies"]:
            if dep not in by_id:
                out.append(error("graph-unknown-dependency",
                                 f"task '{task['id']}' depends on unknown task '{dep}'"
                                 f"{did_you_mean(dep, by_id)}", _loc(task, display)))
        for name in rule_task_names(task.get("trigger_rules")):
            if name not in by_id:
                out.append(error("graph-unknown-rule-task",
                                 f"trigger rule of task '{task['id']}' names unknown task "
                                 f"'{name}'{did_you_mean(name, by_id)}", _loc(task, display)))
    cycle = find_cycle({t: [d for d in v["dependencies"] if d in by_id]
                        for t, v in by_id.items()})
    if cycle:
        out.append(error("graph-cycle", "dependency cycle: " + " -> ".join(cycle),
                         _loc(by_id[cycle[0]], display)))
    return out


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]`` (task -> its dependency), or None. Iterative DFS."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {n: WHITE for n in edges}
    for start in sorted(edges):
        if colour[start] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        colour[start] = GREY
        while stack:
            node, i = stack[-1]
            deps = sorted(edges.get(node, []))
            if i < len(deps):
                stack[-1] = (node, i + 1)
                nxt = deps[i]
                if colour.get(nxt) == GREY:
                    return path[path.index(nxt):] + [nxt]
                if colour.get(nxt) == WHITE:
                    colour[nxt] = GREY
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = BLACK
                stack.pop()
                path.pop()
    return None


def execution_levels(tasks: list[dict]) -> list[list[str]]:
    """Tasks grouped by level: each level depends only on earlier ones (acyclic input)."""
    deps = {t["id"]: set(t["dependencies"]) for t in tasks}
    done: set[str] = set()
    levels: list[list[str]] = []
    while len(done) < len(deps):
        level = sorted(t for t, d in deps.items() if t not in done and d <= done)
        if not level:  # a cycle or an unknown dependency: stop rather than loop
            break
        levels.append(level)
        done.update(level)
    return levels
