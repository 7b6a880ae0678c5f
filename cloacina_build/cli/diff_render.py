"""``cloacinactl diff`` for people: a header naming both sides, the one-line summary, then
a section for each part that differs, with ``+`` (only in NEW), ``-`` (only in OLD) and
``~`` (changed) markers.  Every line is made printable: the strings come from packages."""

from __future__ import annotations

import json
from typing import Any

from ..ops.describe import KIND_NAMES
from ..ops.diff import Side, WorkflowDiff
from ..ops.diff_fields import Change, NamedDiff
from ..ops.diff_files import FilesDiff
from ..ops.diff_tasks import TaskChange
from .render import shown_path
from .terminal import printable

_HEX = frozenset({"code", "fingerprint", "sha256", "digest", "source_revision"})


def value_text(field: str, value: Any) -> str:
    """A value as one short line: hashes cut to 12 digits, lists joined, a retry policy
    as ``attempts=3 backoff=exponential``, a trigger rule in words, anything else as compact
    JSON."""
    if field == "trigger_rules":
        return rule_words(value)
    if value is None or value == [] or value == {}:
        return "-"
    if field in _HEX and isinstance(value, str):
        return value[:12]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return f"{value} bytes" if field in ("size", "file_size") else str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if field == "retry" and isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def rule_words(value: Any) -> str:
    """A trigger rule (its JSON form) in the words ``inspect`` and ``graph`` use; no rule
    is ``always``.  A value the rule book would not read stays JSON."""
    from ..model import RuleType
    from ..ops.rule_words import rule_text
    from ..rulebook import RuleViolation, trigger_rule

    if value is None:
        return "always"
    try:
        rule = trigger_rule(value)
    except RuleViolation:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return "always" if rule.type is RuleType.ALWAYS else rule_text(rule)


def change_text(c: Change) -> str:
    if c.field == "dependencies" and c.detail:
        parts = [f"+{d}" for d in c.detail["added"]]
        parts += [f"-{d}" for d in c.detail["removed"]]
        parts += [f"{a} -> {b} (renamed)" for a, b in c.detail["renamed"]]
        return f"dependencies {' '.join(parts)}"
    return f"{c.field.replace('_', ' ')} {value_text(c.field, c.old)} -> " \
           f"{value_text(c.field, c.new)}"


def _side(mark: str, label: str, s: Side) -> str:
    return (f"{mark} {label} {shown_path(s.path)}: {s.name} {s.version or '(dynamic version)'}"
            f" ({KIND_NAMES.get(s.kind, s.kind)}), workflow {s.workflow} with {s.tasks} task(s)")


def _task_lines(diff: WorkflowDiff) -> list[str]:
    t = diff.tasks
    lines = [f"  + {task.id}  ({task.function}; depends on "
             f"{', '.join(task.dependencies) or 'nothing'})" for task in t.added]
    lines += [f"  - {task.id}  ({task.function})" for task in t.removed]
    for c in t.renamed:
        lines.append(f"  ~ {c.old_id} -> {c.id}  renamed (same {c.matched_by})")
        lines += _changed_lines(c)
    for c in t.changed:
        lines.append(f"  ~ {c.id}")
        lines += _changed_lines(c)
    return lines


def _changed_lines(c: TaskChange) -> list[str]:
    return [f"      {change_text(x)}" for x in c.changes]


def _named_lines(d: NamedDiff, describe) -> list[str]:
    lines = [f"  + {item['name']}  {describe(item)}" for item in d.added]
    lines += [f"  - {item['name']}" for item in d.removed]
    for c in d.changed:
        lines.append(f"  ~ {c.name}  " + "; ".join(change_text(x) for x in c.changes))
    return lines


def _trigger(t: dict[str, Any]) -> str:
    return f"{t['kind']} {t['schedule']} -> {t['on']}"


def _param(p: dict[str, Any]) -> str:
    extra = "required" if p["required"] else f"default {value_text('default', p['default'])}"
    return f"{p['type']}, {extra}"


def _signer(s: dict[str, Any]) -> str:
    if s.get("member"):
        return f"{s['member']} (malformed)"
    kind = " (detached)" if s.get("detached") else ""
    return f"{s['signer'] or '?'} key {(s['key_id'] or '')[:16]}{kind}"


def _file_lines(files: FilesDiff) -> list[str]:
    lines = [f"  + {f.path}  ({_size(f.shown_size)}, {_short(f.sha256)})" for f in files.added]
    lines += [f"  - {f.path}" for f in files.removed]
    for old, new in files.changed:
        parts = [f"sha256 {_short(old.sha256)} -> {_short(new.sha256)}"]
        if old.shown_size != new.shown_size:
            parts.insert(0, f"size {_size(old.shown_size)} -> {_size(new.shown_size)}")
        lines.append(f"  ~ {new.path}  {', '.join(parts)}")
    lines.append(f"  = {files.unchanged} file(s) the same (compared by {files.basis})")
    return lines


def _short(sha256: str | None) -> str:
    return sha256[:12] if sha256 else "-"


def _size(n: int | None) -> str:
    return "? bytes" if n is None else f"{n} bytes"


def _sections(diff: WorkflowDiff) -> list[tuple[str, list[str]]]:
    sig = diff.signatures
    return [
        ("tasks", _task_lines(diff)),
        ("edges", [f"  + {d} -> {t}" for d, t in diff.edges.added]
         + [f"  - {d} -> {t}" for d, t in diff.edges.removed]),
        ("workflow", [f"  ~ {change_text(c)}" for c in diff.workflow]),
        ("triggers", _named_lines(diff.triggers, _trigger)),
        ("params", _named_lines(diff.params, _param)),
        ("secrets", [f"  + {s}" for s in diff.secrets.added]
         + [f"  - {s}" for s in diff.secrets.removed]),
        ("package", [f"  ~ {change_text(c)}" for c in diff.package]),
        ("payload", [f"  ~ {change_text(c)}" for c in diff.payload.changes]),
        ("native", [f"  ~ {change_text(c)}" for c in diff.native]),
        ("signatures", [f"  + {_signer(s)}" for s in sig.added]
         + [f"  - {_signer(s)}" for s in sig.removed] if sig else []),
        ("payload files", _file_lines(diff.files) if diff.files is not None else []),
        ("build (informational)", [f"  ~ {change_text(c)}" for c in diff.build]),
        ("notes", [f"  {n}" for n in diff.notes]),
    ]


def diff_text(diff: WorkflowDiff) -> str:
    lines = [_side("---", "OLD", diff.old), _side("+++", "NEW", diff.new), diff.summary()]
    for title, body in _sections(diff):
        if body:
            lines += ["", f"{title}:", *body]
    return "\n".join(printable(line) for line in lines)
