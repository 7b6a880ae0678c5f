"""Tasks and edges of two workflows: added, removed, renamed and changed tasks, and the
graph's edges as sets.  Linear in the number of tasks and edges: every match is a dict
lookup (by id, then by the rename keys), every edge set a hash set.

**Renames.**  A task's fingerprint (``project/fingerprint.py``) covers its whole
definition: the decorator with its arguments (``id=`` included), the function's name, its
signature and its body (docstrings, comments and layout left out); a Rust task's covers
its ``#[task(...)]`` attribute and its tokens the same way.  So with this tool's
fingerprints a task that only changed its id still changes its fingerprint, and "the same
fingerprint under a new id" cannot be the whole rule.  A task that disappears (OLD only)
is paired with a new one (NEW only) as *renamed* by the first of these keys that matches,
one to one, in id order when several share a key:

1. ``fingerprint``: the same fingerprint (a fingerprint that does not cover the id);
2. ``function``: the same function (``module:function``): the decorator's ``id=`` changed;
3. ``place``: the same declaration site (file and line), docstring and async-ness: the
   task renamed where it stands, function and all.

A renamed task's other differences are listed with it; with this tool's fingerprints
``code`` is always among them, since the id is part of what is fingerprinted.

**Edges** are ``(dependency, task)`` pairs.  OLD's edges are compared after renaming
their ends, so a rename alone moves no edge: ``a -> b`` becoming ``a -> b2`` when ``b``
was renamed ``b2`` is not reported as an edge removed and one added.  A task whose
``dependencies`` list names a renamed task did change its declaration, and is listed
with that dependency marked as renamed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Task, Workflow
from .diff_fields import Change, changes_dict

_RENAME_KEYS: tuple[tuple[str, Callable[[Task], Hashable]], ...] = (
    ("fingerprint", lambda t: t.fingerprint),
    ("function", lambda t: t.function),
    ("place", lambda t: (t.source.file, t.source.line, t.doc, t.is_async)),
)


@dataclass(frozen=True, slots=True)
class TaskChange:
    """A task in both workflows (``old_id`` differs from ``id`` for a renamed one) and
    what differs: ``function``, ``code`` (the fingerprint), ``dependencies``, ``retry``,
    ``trigger_rules``, ``is_async``."""

    old_id: str
    id: str
    changes: tuple[Change, ...]
    matched_by: str | None = None   # for a rename: "fingerprint", "function" or "place"

    @property
    def renamed(self) -> bool:
        return self.old_id != self.id

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "changes": changes_dict(self.changes)}
        if self.renamed:
            out.update(old_id=self.old_id, matched_by=self.matched_by)
        return out


def task_summary(task: Task) -> dict[str, Any]:
    return {"id": task.id, "function": task.function,
            "dependencies": list(task.dependencies), "fingerprint": task.fingerprint}


@dataclass(frozen=True, slots=True)
class TaskDiff:
    added: tuple[Task, ...]
    removed: tuple[Task, ...]
    renamed: tuple[TaskChange, ...]
    changed: tuple[TaskChange, ...]     # same id, something differs
    unchanged: int

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.renamed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": [task_summary(t) for t in self.added],
                "removed": [task_summary(t) for t in self.removed],
                "renamed": [c.to_dict() for c in self.renamed],
                "changed": [c.to_dict() for c in self.changed],
                "unchanged": self.unchanged}


Edge = tuple[str, str]   # (dependency, task)


@dataclass(frozen=True, slots=True)
class EdgeDiff:
    added: tuple[Edge, ...] = ()      # NEW's ids
    removed: tuple[Edge, ...] = ()    # OLD's ids

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": [{"dependency": d, "task": t} for d, t in self.added],
                "removed": [{"dependency": d, "task": t} for d, t in self.removed]}


def match_renames(removed: list[Task], added: list[Task], *, by_fingerprint: bool = True
                  ) -> list[tuple[Task, Task, str]]:
    """Pairs ``(old, new, key)`` of renamed tasks, one to one; both lists sorted by id,
    so that the pairing is deterministic when several tasks share a key."""
    pairs: list[tuple[Task, Task, str]] = []
    for how, key in _RENAME_KEYS:
        if not (removed and added):
            break
        if how == "fingerprint" and not by_fingerprint:
            continue
        waiting: dict[Hashable, list[Task]] = {}
        for task in reversed(added):           # pop() then yields the smallest id first
            waiting.setdefault(key(task), []).append(task)
        left, taken = [], set()
        for task in removed:
            bucket = waiting.get(key(task))
            if bucket:
                match = bucket.pop()
                taken.add(match.id)
                pairs.append((task, match, how))
            else:
                left.append(task)
        removed, added = left, [t for t in added if t.id not in taken]
    return pairs


def diff_tasks(old: Workflow, new: Workflow) -> tuple[TaskDiff, EdgeDiff]:
    """The tasks and the edges of ``old`` and ``new``.  Fingerprints made by different
    algorithms are not compared (``code`` is then never reported, nor matched on)."""
    same_algorithm = old.fingerprint_algorithm == new.fingerprint_algorithm
    before = {t.id: t for t in old.tasks}
    after = {t.id: t for t in new.tasks}
    removed = sorted((t for i, t in before.items() if i not in after), key=_id)
    added = sorted((t for i, t in after.items() if i not in before), key=_id)
    pairs = match_renames(removed, added, by_fingerprint=same_algorithm)
    renames = {a.id: b.id for a, b, _ in pairs}
    gone = {a.id for a, _, _ in pairs}
    came = {b.id for _, b, _ in pairs}
    renamed = tuple(sorted((TaskChange(a.id, b.id, task_changes(a, b, renames, same_algorithm),
                                       how) for a, b, how in pairs), key=lambda c: c.id))
    changed, unchanged = [], 0
    for tid in sorted(before.keys() & after.keys()):
        found = task_changes(before[tid], after[tid], renames, same_algorithm)
        if found:
            changed.append(TaskChange(tid, tid, found))
        else:
            unchanged += 1
    tasks = TaskDiff(added=tuple(t for t in added if t.id not in came),
                     removed=tuple(t for t in removed if t.id not in gone),
                     renamed=renamed, changed=tuple(changed), unchanged=unchanged)
    return tasks, diff_edges(old, new, renames)


def _id(task: Task) -> str:
    return task.id


def task_changes(a: Task, b: Task, renames: Mapping[str, str],
                 compare_code: bool = True) -> tuple[Change, ...]:
    """What differs between two versions of one task (its id aside)."""
    out: list[Change] = []
    if a.function != b.function:
        out.append(Change("function", a.function, b.function))
    if compare_code and a.fingerprint != b.fingerprint:
        out.append(Change("code", a.fingerprint, b.fingerprint))
    if a.dependencies != b.dependencies and set(a.dependencies) != set(b.dependencies):
        out.append(_dependencies(a, b, renames))
    if a.retry != b.retry:
        out.append(Change("retry", a.retry.to_dict(), b.retry.to_dict()))
    if a.trigger_rules != b.trigger_rules:
        out.append(Change("trigger_rules", _rule(a), _rule(b)))
    if a.is_async != b.is_async:
        out.append(Change("is_async", a.is_async, b.is_async))
    return tuple(out)


def _rule(task: Task) -> dict[str, Any] | None:
    return task.trigger_rules.to_dict() if task.trigger_rules else None


def _dependencies(a: Task, b: Task, renames: Mapping[str, str]) -> Change:
    """The dependencies' change: ``added`` and ``removed`` ids, and ``renamed`` pairs for
    a dependency that is the same task under its new id (not an edge change)."""
    old, new = set(a.dependencies), set(b.dependencies)
    renamed = sorted((d, renames[d]) for d in old if renames.get(d) in new)
    mapped = {renames.get(d, d) for d in old}
    return Change("dependencies", sorted(old), sorted(new), {
        "added": sorted(new - mapped),
        "removed": sorted(d for d in old if renames.get(d, d) not in new),
        "renamed": [list(pair) for pair in renamed]})


def diff_edges(old: Workflow, new: Workflow, renames: Mapping[str, str]) -> EdgeDiff:
    """Edges ``(dependency, task)`` added and removed, OLD's ends renamed first."""
    before: dict[Edge, Edge] = {}     # OLD's edge, renamed -> as OLD wrote it
    for task in old.tasks:
        tid = renames.get(task.id, task.id)
        for dep in task.dependencies:
            before[(renames.get(dep, dep), tid)] = (dep, task.id)
    after = {(dep, task.id) for task in new.tasks for dep in task.dependencies}
    return EdgeDiff(added=tuple(sorted(after - before.keys())),
                    removed=tuple(sorted(before[e] for e in before.keys() - after)))
