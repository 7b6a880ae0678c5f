"""A trigger rule in words, for people: ``valid_orders exists and validate_orders
succeeded``.  ``inspect`` shows it in its RUNS WHEN column and ``graph`` in its marks."""

from __future__ import annotations

from ..model import Operator, RuleType, TriggerRule

_OPS = {Operator.EQUALS: "==", Operator.NOT_EQUALS: "!=", Operator.GREATER_THAN: ">",
        Operator.LESS_THAN: "<", Operator.CONTAINS: "contains",
        Operator.NOT_CONTAINS: "not contains"}
_TASK_STATES = {RuleType.TASK_SUCCESS: "succeeded", RuleType.TASK_FAILED: "failed",
                RuleType.TASK_SKIPPED: "skipped"}


def rule_text(rule: TriggerRule | None) -> str:
    """A trigger rule in words: ``valid_orders exists and validate_orders succeeded``."""
    if rule is None or rule.type is RuleType.ALWAYS:
        return "-"
    if rule.type is RuleType.CONTEXT_VALUE:
        if rule.operator in (Operator.EXISTS, Operator.NOT_EXISTS):
            verb = "exists" if rule.operator is Operator.EXISTS else "does not exist"
            return f"{rule.key} {verb}"
        op = _OPS.get(rule.operator, str(rule.operator)) if rule.operator else "?"
        return f"{rule.key} {op} {short_value(rule.value)}"
    if rule.type in _TASK_STATES:
        return f"{rule.task_name} {_TASK_STATES[rule.type]}"
    parts = [rule_text(c) for c in rule.conditions]
    if rule.type is RuleType.NONE:
        return "not (" + " or ".join(parts) + ")"
    joined = (" and " if rule.type is RuleType.ALL else " or ").join(parts)
    return joined if len(parts) == 1 else f"({joined})"


def short_value(value: object, limit: int = 60) -> str:
    """A JSON value from a package, as a short one-line repr."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
