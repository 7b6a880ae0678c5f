"""The pieces of a diff's one-line summary (``1 task changed, 1 added, 1 renamed; 2 edges
added; payload differs``): counts with their noun, and the fields of a section."""

from __future__ import annotations

from .diff_fields import Change, NamedDiff, SetDiff


def counted(noun: str, counts: list[tuple[str, int]]) -> str:
    """``3 tasks changed, 1 added``: the noun goes with the first count that is not 0."""
    parts: list[str] = []
    for verb, n in counts:
        if n:
            word = "" if parts else f" {noun}{'' if n == 1 else 's'}"
            parts.append(f"{n}{word} {verb}")
    return ", ".join(parts)


def named(noun: str, d: NamedDiff | SetDiff | None) -> str:
    if not d:
        return ""
    counts = [("added", len(d.added)), ("removed", len(d.removed))]
    if isinstance(d, NamedDiff):
        counts.append(("changed", len(d.changed)))
    return counted(noun, counts)


def fields(label: str, changes: tuple[Change, ...]) -> str:
    return f"{label}: {', '.join(c.field for c in changes)}" if changes else ""
