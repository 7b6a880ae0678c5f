"""The small pieces of a diff: a changed field, and what was added, removed or changed in
a set of named things (triggers, params, secrets, signatures).

Values are kept in their JSON form (``to_dict()`` of the model), so that equality is the
model's, the output is exact and one rendering serves every section.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: its name, the old and the new value (JSON values), and for
    a list such as a task's dependencies what came and went (``detail``)."""

    field: str
    old: Any
    new: Any
    detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, **(self.detail or {})}


def changes_dict(items: Iterable[Change]) -> dict[str, Any]:
    """``{field: {"old": ..., "new": ...}}``: a section's changes as JSON."""
    return {c.field: c.to_dict() for c in items}


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any],
                  fields: Iterable[str]) -> tuple[Change, ...]:
    """The fields (in the order given) whose values differ."""
    return tuple(Change(f, old.get(f), new.get(f)) for f in fields if old.get(f) != new.get(f))


@dataclass(frozen=True, slots=True)
class NamedChange:
    name: str
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "changes": changes_dict(self.changes)}


@dataclass(frozen=True, slots=True)
class NamedDiff:
    """Things keyed by a name: those only in NEW, only in OLD (as JSON objects, sorted by
    name) and those in both that differ."""

    added: tuple[dict[str, Any], ...] = ()
    removed: tuple[dict[str, Any], ...] = ()
    changed: tuple[NamedChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed),
                "changed": [c.to_dict() for c in self.changed]}


def diff_named(old: Iterable[T], new: Iterable[T], key: Callable[[T], str],
               as_dict: Callable[[T], dict[str, Any]], fields: tuple[str, ...]) -> NamedDiff:
    """Match items by ``key`` (dict lookups: linear) and compare ``fields`` of the pairs."""
    before = {key(x): as_dict(x) for x in old}
    after = {key(x): as_dict(x) for x in new}
    changed = []
    for name in sorted(before.keys() & after.keys()):
        found = field_changes(before[name], after[name], fields)
        if found:
            changed.append(NamedChange(name, found))
    return NamedDiff(added=tuple(after[n] for n in sorted(after.keys() - before.keys())),
                     removed=tuple(before[n] for n in sorted(before.keys() - after.keys())),
                     changed=tuple(changed))


@dataclass(frozen=True, slots=True)
class SetDiff:
    """Members of a set (secrets, signatures) only in NEW and only in OLD, sorted."""

    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "removed": list(self.removed)}


def diff_set(old: Iterable[str], new: Iterable[str]) -> SetDiff:
    before, after = set(old), set(new)
    return SetDiff(tuple(sorted(after - before)), tuple(sorted(before - after)))
