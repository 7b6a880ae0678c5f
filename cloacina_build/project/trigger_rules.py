"""Trigger rules written as ``cloaca`` calls, read statically into the engine's JSON form.

Conditions: ``{"type": "ContextValue", "key", "operator", "value"}`` and
``{"type": "TaskSuccess" | "TaskFailed" | "TaskSkipped", "task_name"}``.  Rules:
``{"type": "Always"}`` and ``{"type": "All" | "Any" | "None", "conditions": [...]}``; a bare
condition is all-of that one condition, as the engine treats it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

OPERATORS = {
    "equals": "Equals", "eq": "Equals", "==": "Equals",
    "notequals": "NotEquals", "ne": "NotEquals", "!=": "NotEquals",
    "greaterthan": "GreaterThan", "gt": "GreaterThan", ">": "GreaterThan",
    "lessthan": "LessThan", "lt": "LessThan", "<": "LessThan",
    "contains": "Contains", "in": "Contains",
    "notcontains": "NotContains", "not_in": "NotContains",
    "exists": "Exists",
    "notexists": "NotExists",
}
_TASK_CONDITIONS = {"task_success": "TaskSuccess", "task_failed": "TaskFailed",
                    "task_skipped": "TaskSkipped"}
_COMBINATORS = {"all_of": "All", "any_of": "Any", "none_of": "None"}
HELPERS = frozenset({"context_value", "always", *_TASK_CONDITIONS, *_COMBINATORS})


class RuleError(Exception):
    def __init__(self, message: str, node: ast.AST) -> None:
        super().__init__(message)
        self.node = node


def normalise_operator(op: str) -> str | None:
    key = op.strip().lower()
    if key in OPERATORS:
        return OPERATORS[key]
    return OPERATORS.get(key.replace("_", "").replace(" ", ""))


def is_json_data(value: object) -> bool:
    """True for values that survive a JSON round trip (tuples count as lists)."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(is_json_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_data(v) for k, v in value.items())
    return False


def _literal(node: ast.AST, what: str):
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise RuleError(f"{what} must be a literal, not '{ast.unparse(node)}'", node) from None
    if not is_json_data(value):
        raise RuleError(f"{what} must be JSON-like data, not {value!r}", node)
    return value


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
    missing = [n for n, v in zip(names, values) if v is None]
    if missing:
        raise RuleError(f"cloaca.{helper}() is missing {', '.join(missing)}", call)
    return values  # type: ignore[return-value]


def read_condition(node: ast.AST, helper_of: Callable[[ast.AST], str | None]) -> dict:
    """A condition or a rule (combinators nest); raises RuleError."""
    if not isinstance(node, ast.Call):
        raise RuleError("trigger_rules must be built from cloaca helpers such as "
                        f"cloaca.context_value(...), not '{ast.unparse(node)}'", node)
    helper = helper_of(node.func)
    if helper is None or helper not in HELPERS:
        raise RuleError(f"'{ast.unparse(node.func)}' is not a cloaca trigger-rule helper "
                        f"(use one of {', '.join(sorted(HELPERS))})", node)
    if helper == "always":
        _args(node, helper, 0, ())
        return {"type": "Always"}
    if helper in _TASK_CONDITIONS:
        (name,) = _args(node, helper, 1, ("name",))
        value = _literal(name, f"the task name of cloaca.{helper}()")
        if not isinstance(value, str):
            raise RuleError(f"cloaca.{helper}() takes a task name (a string)", node)
        return {"type": _TASK_CONDITIONS[helper], "task_name": value}
    if helper == "context_value":
        key_n, op_n, val_n = _args(node, helper, 3, ("key", "operator", "value"))
        key = _literal(key_n, "the key of cloaca.context_value()")
        op = _literal(op_n, "the operator of cloaca.context_value()")
        value = _literal(val_n, "the value of cloaca.context_value()")
        if not isinstance(key, str) or not isinstance(op, str):
            raise RuleError("cloaca.context_value() takes a key and an operator as strings",
                            node)
        canonical = normalise_operator(op)
        if canonical is None:
            raise RuleError(f"unknown operator '{op}' (use one of Equals, NotEquals, "
                            "GreaterThan, LessThan, Contains, NotContains, Exists, NotExists)",
                            node)
        return {"type": "ContextValue", "key": key, "operator": canonical, "value": value}
    (items,) = _args(node, helper, 1, ("conditions",))
    if not isinstance(items, (ast.List, ast.Tuple)):
        raise RuleError(f"cloaca.{helper}() takes a list of conditions", node)
    conditions = [read_condition(item, helper_of) for item in items.elts]
    return {"type": _COMBINATORS[helper], "conditions": conditions}


def read_rule(node: ast.AST, helper_of: Callable[[ast.AST], str | None]) -> dict:
    rule = read_condition(node, helper_of)
    if rule["type"] in ("Always", "All", "Any", "None"):
        return rule
    return {"type": "All", "conditions": [rule]}


def rule_task_names(rule: dict | None) -> list[str]:
    """Task names a rule refers to (for graph checks)."""
    if not rule:
        return []
    if "task_name" in rule:
        return [rule["task_name"]]
    out: list[str] = []
    for cond in rule.get("conditions", []):
        out.extend(rule_task_names(cond))
    return out
