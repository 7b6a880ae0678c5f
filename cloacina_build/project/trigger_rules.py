"""Trigger rules written as ``cloaca`` calls, read statically into the typed model.

``cloaca.any_of([cloaca.task_success("a"), cloaca.context_value("mode", "eq", "full")])``
is read (never run) into the engine's JSON form, and the rule book
(:func:`cloacina_build.rulebook.trigger_rule`) decides whether it is a rule and builds the
:class:`~cloacina_build.model.TriggerRule`: operator spellings, task names, values, depth and
size are the rule book's, the same for every reader and writer.  A bare condition is
all-of that one condition, as the engine treats it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from .. import rulebook as rb
from ..model import TriggerRule

_TASK_CONDITIONS = {"task_success": "TaskSuccess", "task_failed": "TaskFailed",
                    "task_skipped": "TaskSkipped"}
_COMBINATORS = {"all_of": "All", "any_of": "Any", "none_of": "None"}
HELPERS = frozenset({"context_value", "always", *_TASK_CONDITIONS, *_COMBINATORS})

HelperOf = Callable[[ast.AST], "str | None"]


class RuleError(Exception):
    def __init__(self, message: str, node: ast.AST) -> None:
        super().__init__(message)
        self.node = node


def normalise_operator(op: str) -> str | None:
    """The engine's spelling of an operator, or None (the rule book's table)."""
    try:
        return rb.operator(op).value
    except rb.RuleViolation:
        return None


def _literal(node: ast.AST, what: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise RuleError(f"{what} must be a literal, not '{unparse_short(node)}'", node) from None
    if not rb.is_json_data(value):
        raise RuleError(f"{what} must be JSON-like data, not {rb._short(value)}", node)
    return value


def unparse_short(node: ast.AST) -> str:
    """Source text of ``node`` for a message, at most 60 characters."""
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _args(call: ast.Call, helper: str, count: int, names: tuple[str, ...]) -> list[ast.AST]:
    values: list[ast.AST | None] = [None] * count
    for i, arg in enumerate(call.args):
        if i >= count or isinstance(arg, ast.Starred):
            raise RuleError(f"cloaca.{helper}() takes {count} argument(s)", call)
        values[i] = arg
    for kw in call.keywords:
        if kw.arg not in names:
            raise RuleError(f"cloaca.{helper}() has no argument '{kw.arg}'", call)
        idx = names.index(kw.arg)
        if values[idx] is not None:
            raise RuleError(f"cloaca.{helper}() got '{kw.arg}' twice", call)
        values[idx] = kw.value
    missing = [n for n, v in zip(names, values, strict=True) if v is None]
    if missing:
        raise RuleError(f"cloaca.{helper}() is missing {', '.join(missing)}", call)
    return values  # type: ignore[return-value]


def _helper(node: ast.AST, helper_of: HelperOf) -> str:
    if not isinstance(node, ast.Call):
        raise RuleError("trigger_rules must be built from cloaca helpers such as "
                        f"cloaca.context_value(...), not '{unparse_short(node)}'", node)
    helper = helper_of(node.func)
    if helper is None or helper not in HELPERS:
        raise RuleError(f"'{unparse_short(node.func)}' is not a cloaca trigger-rule helper "
                        f"(use one of {', '.join(sorted(HELPERS))})", node)
    return helper


def read_condition(node: ast.AST, helper_of: HelperOf, depth: int = 0) -> dict[str, Any]:
    """The JSON form of a condition or a rule (combinators nest); raises RuleError."""
    if depth > rb.MAX_RULE_DEPTH:
        raise RuleError(f"trigger rules may nest {rb.MAX_RULE_DEPTH} deep at most", node)
    helper = _helper(node, helper_of)
    assert isinstance(node, ast.Call)
    if helper == "always":
        _args(node, helper, 0, ())
        return {"type": "Always"}
    if helper in _TASK_CONDITIONS:
        (name,) = _args(node, helper, 1, ("name",))
        return {"type": _TASK_CONDITIONS[helper],
                "task_name": _literal(name, f"the task name of cloaca.{helper}()")}
    if helper == "context_value":
        return _context_value(node)
    (items,) = _args(node, helper, 1, ("conditions",))
    if not isinstance(items, (ast.List, ast.Tuple)):
        raise RuleError(f"cloaca.{helper}() takes a list of conditions", node)
    return {"type": _COMBINATORS[helper],
            "conditions": [read_condition(item, helper_of, depth + 1) for item in items.elts]}


def _context_value(node: ast.Call) -> dict[str, Any]:
    key_n, op_n, val_n = _args(node, "context_value", 3, ("key", "operator", "value"))
    key = _literal(key_n, "the key of cloaca.context_value()")
    op = _literal(op_n, "the operator of cloaca.context_value()")
    value = _literal(val_n, "the value of cloaca.context_value()")
    if not isinstance(key, str) or not isinstance(op, str):
        raise RuleError("cloaca.context_value() takes a key and an operator as strings", node)
    try:
        operator = rb.operator(op)
    except rb.RuleViolation as v:
        raise RuleError(v.message, op_n) from None
    return {"type": "ContextValue", "key": key, "operator": operator.value, "value": value}


def read_rule(node: ast.AST, helper_of: HelperOf) -> TriggerRule:
    """The typed rule a ``trigger_rules=`` argument declares, as the rule book builds it."""
    try:
        return rb.trigger_rule(read_condition(node, helper_of))
    except rb.RuleViolation as v:
        raise RuleError(v.message, node) from None


def rule_task_names(rule: TriggerRule | Mapping[str, Any] | None) -> list[str]:
    """Task names a rule refers to (for graph checks), in order.  Takes the model, or the
    JSON form for callers that still hold one."""
    if rule is None:
        return []
    if isinstance(rule, TriggerRule):
        return rule.task_names()
    out: list[str] = []
    stack: list[Any] = [rule]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if "task_name" in node:
            out.append(node["task_name"])
        conditions = node.get("conditions")
        if isinstance(conditions, list):
            stack.extend(reversed(conditions))
    return out
