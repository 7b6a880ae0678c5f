"""The manifest reader's fast path for tasks.

A 50,000-task manifest is mostly task objects in exactly the form the builder writes.
:class:`FastTasks` reads those with the same rule book as the full reader
(:mod:`cloacina_build.manifest_parser`) but without its per-field bookkeeping, and hands
anything unusual back (``None``) so that the full reader decides and explains.  A property
test keeps the two in agreement (``tests/test_manifest_parse.py``).
"""

from __future__ import annotations

import re
from typing import Any

from . import rulebook as rb
from .model.workflow import Retry, SourceLocation, Task

_TASK_KEYS = frozenset(("id", "function", "dependencies", "retry", "trigger_rules",
                        "is_async", "doc", "source", "fingerprint"))
_RETRY_KEYS = frozenset(("attempts", "backoff", "delay_ms", "max_delay_ms", "condition",
                         "jitter"))


class FastTasks:
    """Tasks in exactly the form the builder writes, checked by the same rules without the
    reader's bookkeeping (a 50,000-task manifest is mostly this).  Within one manifest an id
    that passed the rule book once, and a retry policy already read, are not read again
    (most tasks share one policy, and every dependency is some task's id)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.retries: dict[tuple[tuple[str, type, Any], ...], Retry] = {}

    def ids_ok(self, values: Any) -> bool:
        """Task ids as the rule book has them (its patterns are ASCII: no surrogates)."""
        for d in values:
            if type(d) is not str:
                return False
            if d not in self.ids:
                if len(d) > rb.MAX_ID or not rb.ID_RE.fullmatch(d):
                    return False
                self.ids.add(d)
        return True

    def retry(self, value: dict[str, Any]) -> Retry | None:
        # keyed by type too: 1, 1.0 and True are equal as keys but not to the rule book
        key = tuple((k, type(v), v) for k, v in value.items())
        if not all(t in _SCALARS for _, t, _ in key):
            return None
        found = self.retries.get(key)
        if found is None:
            try:
                found = rb.retry(value)
            except rb.RuleViolation:
                return None
            if found.to_dict() != value:
                return None
            self.retries[key] = found
        return found

    def task(self, v: Any) -> Task | None:
        """The task, or None to send anything unusual to the full reader, which decides
        and explains."""
        if type(v) is not dict or v.keys() != _TASK_KEYS:
            return None
        deps, src, doc, retry = v["dependencies"], v["source"], v["doc"], v["retry"]
        if type(deps) is not list or len(deps) > rb.MAX_DEPENDENCIES or not self.ids_ok(deps) \
                or len(set(deps)) != len(deps) or not self.ids_ok((v["id"],)) \
                or type(src) is not dict or src.keys() != _SOURCE_KEYS \
                or type(src["line"]) is not int or not 0 <= src["line"] <= 1 << 31 \
                or not rb.is_text(src["file"], 1024) or type(v["is_async"]) is not bool \
                or not (doc is None or rb.is_text(doc, rb.MAX_DOC)) \
                or not _matches(rb.FUNCTION_RE, v["function"], rb.MAX_FUNCTION) \
                or not _matches(rb.SHA256_RE, v["fingerprint"], 64) \
                or type(retry) is not dict or not retry.keys() <= _RETRY_KEYS:
            return None
        policy = self.retry(retry)
        return None if policy is None else _with_rule(
            v, v["trigger_rules"], policy, SourceLocation(src["file"], src["line"]))


def _matches(pattern: re.Pattern[str], value: Any, max_len: int) -> bool:
    return type(value) is str and len(value) <= max_len and pattern.fullmatch(value) is not None


_SOURCE_KEYS = frozenset(("file", "line"))
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _with_rule(v: dict[str, Any], rule: Any, policy: Retry, src: SourceLocation) -> Task | None:
    try:
        parsed = None if rule is None else rb.trigger_rule(rule)
    except rb.RuleViolation:
        return None
    if parsed is not None and parsed.to_dict() != rule:
        return None
    return Task(v["id"], v["function"], tuple(v["dependencies"]), policy, parsed,
                v["is_async"], v["doc"], src, v["fingerprint"])
