"""Trigger rules at run time: does a task's rule hold for this context and these statuses?

Evaluation is linear in the size of the rule; task states are looked up, never collected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..model import Operator, RuleType, TaskStatus, TriggerRule

StatusOf = Callable[[str], "TaskStatus | None"]

_TASK_STATES = {RuleType.TASK_SUCCESS: TaskStatus.COMPLETED,
                RuleType.TASK_FAILED: TaskStatus.FAILED,
                RuleType.TASK_SKIPPED: TaskStatus.SKIPPED}


def holds(rule: TriggerRule | None, context: Mapping[str, Any], status_of: StatusOf) -> bool:
    """Evaluate ``rule`` against a context; ``status_of(task_id)`` gives a task's state."""
    if rule is None or rule.type == RuleType.ALWAYS:
        return True
    if rule.type == RuleType.ALL:
        return all(holds(c, context, status_of) for c in rule.conditions)
    if rule.type == RuleType.ANY:
        return any(holds(c, context, status_of) for c in rule.conditions)
    if rule.type == RuleType.NONE:
        return not any(holds(c, context, status_of) for c in rule.conditions)
    if rule.type in _TASK_STATES:
        return rule.task_name is not None and \
            status_of(rule.task_name) == _TASK_STATES[rule.type]
    if rule.type == RuleType.CONTEXT_VALUE and rule.key is not None and \
            rule.operator is not None:
        return compare(rule.operator, rule.key, rule.value, context)
    return False


_COMPARISONS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQUALS: lambda actual, expected: bool(actual == expected),
    Operator.NOT_EQUALS: lambda actual, expected: bool(actual != expected),
    Operator.GREATER_THAN: lambda actual, expected: bool(actual > expected),
    Operator.LESS_THAN: lambda actual, expected: bool(actual < expected),
    Operator.CONTAINS: lambda actual, expected: expected in actual,
    Operator.NOT_CONTAINS: lambda actual, expected: expected not in actual,
}


def compare(op: Operator, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    """A ``ContextValue`` test; values of types that do not compare make it false."""
    if op == Operator.EXISTS:
        return key in context
    if op == Operator.NOT_EXISTS:
        return key not in context
    if key not in context or op not in _COMPARISONS:
        return False
    try:
        return _COMPARISONS[op](context[key], expected)
    except TypeError:
        return False
