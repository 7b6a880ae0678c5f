"""The rule book: the one place that decides what a task, a retry policy, a trigger, a param,
a secret or an id may be.

Python discovery, Rust discovery, the builder, the manifest parser and the runner all call
these functions with plain values (a literal read from a decorator or an attribute, or a
field of a manifest), so the two languages accept and refuse exactly the same declarations
with the same finding codes.  A refusal is a :class:`RuleViolation` naming the argument at
fault; the caller attaches the location (a source line or a manifest path).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from .errors import did_you_mean
from .model.enums import (
    JSON,
    Backoff,
    Operator,
    ParamType,
    RetryCondition,
    RuleType,
    TriggerKind,
)
from .model.workflow import MISSING, Param, Retry, SourceLocation, Trigger, TriggerRule
from .strict_json import MAX_INT_DIGITS

# Bounds shared by every reader and writer (docs/format.md lists them).  MAX_TASKS is what
# the builder can write and every reader accepts with the default limits (see
# format/limits.py: the manifest of a workflow this size fits ``max_manifest_size``).
MAX_TASKS = 50_000
MAX_TRIGGERS = 1_000
MAX_PARAMS = 1_000
MAX_SECRETS = 1_000
MAX_DEPENDENCIES = 10_000
MAX_ID = 256
MAX_NAME = 256
MAX_FUNCTION = 512
MAX_DOC = 4096
MAX_RETRY_ATTEMPTS = 1000
MAX_DELAY_MS = 7 * 24 * 3600 * 1000          # a week
MAX_RULE_DEPTH = 32
MAX_RULE_NODES = 1000
MAX_JSON_DEPTH = 32

ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
FUNCTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$")
INTERVAL_RE = re.compile(r"^[1-9][0-9]{0,8}(ms|s|m|h|d)$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Each enum's values, built once (checked for every task of a 50,000-task manifest).
_VALUES: dict[type, frozenset[str]] = {
    enum: frozenset(e.value for e in enum)
    for enum in (Backoff, RetryCondition, RuleType, Operator, ParamType, TriggerKind)}

TASK_ARGS = ("id", "dependencies", "retry_attempts", "retry_backoff", "retry_delay_ms",
             "retry_max_delay_ms", "retry_condition", "retry_jitter", "trigger_rules")
TASK_ARG_SYNONYMS = {
    "retries": "retry_attempts", "max_retries": "retry_attempts", "attempts": "retry_attempts",
    "backoff": "retry_backoff", "delay_ms": "retry_delay_ms", "retry_delay": "retry_delay_ms",
    "depends_on": "dependencies", "deps": "dependencies", "after": "dependencies",
    "name": "id", "task_id": "id", "trigger_rule": "trigger_rules", "rules": "trigger_rules",
}
TRIGGER_ARGS = ("on", "cron", "poll_interval", "name", "allow_concurrent", "timezone")
RETRY_ARGS = {"retry_attempts": "attempts", "retry_backoff": "backoff",
              "retry_delay_ms": "delay_ms", "retry_max_delay_ms": "max_delay_ms",
              "retry_condition": "condition", "retry_jitter": "jitter"}

OPERATOR_SPELLINGS = {
    **dict.fromkeys(("equals", "eq", "=="), Operator.EQUALS),
    **dict.fromkeys(("notequals", "ne", "!="), Operator.NOT_EQUALS),
    **dict.fromkeys(("greaterthan", "gt", ">"), Operator.GREATER_THAN),
    **dict.fromkeys(("lessthan", "lt", "<"), Operator.LESS_THAN),
    **dict.fromkeys(("contains", "in"), Operator.CONTAINS),
    **dict.fromkeys(("notcontains", "not_in"), Operator.NOT_CONTAINS),
    "exists": Operator.EXISTS, "notexists": Operator.NOT_EXISTS,
}


class RuleViolation(Exception):
    """A declaration the rule book refuses: ``code`` is the finding code, ``argument`` the
    decorator argument (or manifest field) at fault, when there is one."""

    def __init__(self, code: str, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.argument = argument


def _short(value: object, quote: bool = True) -> str:
    """``value`` for a message: its repr (or, ``quote=False``, a string as it is), clipped."""
    try:
        text = repr(value) if quote or not isinstance(value, str) else value
    except (ValueError, RecursionError):  # ints past the conversion limit, deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _small_int(value: object) -> bool:
    """An int that prints: no 4,300-digit surprises downstream."""
    return is_int(value) and -10**MAX_INT_DIGITS < value < 10**MAX_INT_DIGITS


def is_text(value: object, max_len: int | None = None) -> TypeGuard[str]:
    """A str that is valid Unicode text (no lone surrogates), within ``max_len`` chars."""
    if not isinstance(value, str) or (max_len is not None and len(value) > max_len):
        return False
    if value.isascii():  # the usual case, and no surrogate is ASCII
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_json_data(value: object, depth: int = 0) -> bool:
    """True for values that survive a JSON round trip exactly (tuples count as lists):
    finite floats, printable ints, Unicode text, string keys, bounded nesting."""
    if depth > MAX_JSON_DEPTH:
        return False
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return _small_int(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return is_text(value)
    if isinstance(value, (list, tuple)):
        return all(is_json_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(is_text(k) and is_json_data(v, depth + 1) for k, v in value.items())
    return False


def plain_json(value: JSON) -> JSON:
    """Tuples as lists, recursively: the form JSON gives back."""
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    return value


# -- ids and names ---------------------------------------------------------------------

def task_argument(key: str, spelled: str = "@cloaca.task", code: str = "task-argument") -> str:
    """A task decorator/attribute argument name: one of TASK_ARGS (``spelled`` is how the
    caller's language writes the decorator, for the message)."""
    if key not in TASK_ARGS:
        raise RuleViolation(code, f"{spelled} has no argument '{_short(key, False)}'"
                            f"{did_you_mean(key, TASK_ARGS, TASK_ARG_SYNONYMS)}", key)
    return key


def task_id(value: object, code: str = "task-argument") -> str:
    if not is_text(value, MAX_ID) or not ID_RE.fullmatch(value):
        raise RuleViolation(code, f"task id {_short(value)} must be a string of letters, "
                            f"digits, '_', '-' or '.' (at most {MAX_ID} characters, not "
                            "starting with a digit)", "id")
    return value


def dependencies(values: object, code: str = "task-argument") -> tuple[str, ...]:
    """A list of task ids, duplicates dropped, order kept."""
    if not isinstance(values, (list, tuple)):
        raise RuleViolation(code, "dependencies must be a list of task ids", "dependencies")
    if len(values) > MAX_DEPENDENCIES:
        raise RuleViolation(code, f"a task may have at most {MAX_DEPENDENCIES} dependencies",
                            "dependencies")
    out: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            raise RuleViolation(code, f"dependency {_short(value)} must be a task id (a "
                                "string)", "dependencies")
        out[task_id(value, code)] = None
    return tuple(out)


def function_ref(value: object, code: str = "task-argument") -> str:
    if not is_text(value, MAX_FUNCTION) or not FUNCTION_RE.fullmatch(value):
        raise RuleViolation(code, f"function {_short(value)} must be 'module.path:name'",
                            "function")
    return value


def name(value: object, what: str, code: str, max_len: int = MAX_NAME) -> str:
    if not is_text(value, max_len) or not value:
        raise RuleViolation(code, f"{what} {_short(value)} must be a non-empty string of at "
                            f"most {max_len} characters", what)
    return value


def doc_line(value: object) -> str | None:
    """The first line of a docstring, as stored (at most MAX_DOC characters)."""
    if not isinstance(value, str) or not is_text(value) or not value.strip():
        return None
    return value.strip().splitlines()[0][:MAX_DOC]


# -- retry policies --------------------------------------------------------------------

def _non_negative(arg: str, value: object, code: str) -> int:
    if not _small_int(value) or not 0 <= value <= MAX_DELAY_MS:  # type: ignore[operator]
        raise RuleViolation(code, f"{arg} must be an integer from 0 to {MAX_DELAY_MS} "
                            f"(a week), not {_short(value)}", arg)
    return value  # type: ignore[return-value]


def _choice(arg: str, value: object, enum: Any, code: str) -> Any:
    if isinstance(value, str) and value.lower() in _VALUES[enum]:
        return enum(value.lower())
    raise RuleViolation(code, f"{arg} must be one of {', '.join(e.value for e in enum)}, "
                        f"not {_short(value)}", arg)


def retry(args: Mapping[str, object], code: str = "task-argument") -> Retry:
    """A retry policy from decorator arguments named as in ``RETRY_ARGS``
    (``retry_attempts=3``) or as stored in a manifest (``attempts=3``)."""
    if not args:
        return Retry()
    values = {RETRY_ARGS.get(k, k): v for k, v in args.items()}
    arg = {v: k for k, v in RETRY_ARGS.items()}
    unknown = sorted(set(values) - set(arg))
    if unknown:
        raise RuleViolation(code, f"unknown retry setting '{unknown[0]}'", unknown[0])
    attempts = values.get("attempts")
    if attempts is not None and (not _small_int(attempts)
                                 or not 0 <= attempts <= MAX_RETRY_ATTEMPTS):  # type: ignore[operator]
        raise RuleViolation(code, f"retry_attempts must be an integer from 0 to "
                            f"{MAX_RETRY_ATTEMPTS}, not {_short(attempts)}", "retry_attempts")
    delay = values.get("delay_ms")
    max_delay = values.get("max_delay_ms")
    if delay is not None:
        delay = _non_negative("retry_delay_ms", delay, code)
    if max_delay is not None:
        max_delay = _non_negative("retry_max_delay_ms", max_delay, code)
    if delay is not None and max_delay is not None and max_delay < delay:
        raise RuleViolation(code, "retry_max_delay_ms is smaller than retry_delay_ms",
                            "retry_max_delay_ms")
    backoff = values.get("backoff")
    condition = values.get("condition")
    jitter = values.get("jitter")
    if jitter is not None and not isinstance(jitter, bool):
        raise RuleViolation(code, f"retry_jitter must be True or False (a boolean), not "
                            f"{_short(jitter)}", "retry_jitter")
    return Retry(
        attempts=attempts,  # type: ignore[arg-type]
        backoff=_choice("retry_backoff", backoff, Backoff, code) if backoff is not None
        else None,
        delay_ms=delay, max_delay_ms=max_delay,
        condition=_choice("retry_condition", condition, RetryCondition, code)
        if condition is not None else None,
        jitter=jitter,
    )


# -- trigger rules ---------------------------------------------------------------------

def operator(value: object, code: str = "task-trigger-rules") -> Operator:
    if isinstance(value, str):
        key = value.strip().lower()
        found = OPERATOR_SPELLINGS.get(key) or OPERATOR_SPELLINGS.get(
            key.replace("_", "").replace(" ", ""))
        if found is None and value in _VALUES[Operator]:
            found = Operator(value)
        if found is not None:
            return found
    raise RuleViolation(code, f"unknown operator {_short(value)} (use one of "
                        f"{', '.join(o.value for o in Operator)})", "operator")


def trigger_rule(value: object, code: str = "task-trigger-rules") -> TriggerRule:
    """A trigger rule from its JSON form; a bare condition is all-of that one condition,
    as the engine treats it."""
    counter = [0]
    rule = _rule_node(value, code, 0, counter)
    if rule.type in (RuleType.ALWAYS, RuleType.ALL, RuleType.ANY, RuleType.NONE):
        return rule
    return TriggerRule(RuleType.ALL, conditions=(rule,))


def _rule_node(value: object, code: str, depth: int, counter: list[int]) -> TriggerRule:
    counter[0] += 1
    if depth > MAX_RULE_DEPTH or counter[0] > MAX_RULE_NODES:
        raise RuleViolation(code, f"trigger rules may nest {MAX_RULE_DEPTH} deep and hold "
                            f"{MAX_RULE_NODES} conditions at most", "trigger_rules")
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str) \
            or value["type"] not in _VALUES[RuleType]:
        raise RuleViolation(code, f"a trigger rule must be an object with a 'type' of "
                            f"{', '.join(t.value for t in RuleType)}", "trigger_rules")
    kind = RuleType(value["type"])
    allowed = {"type"} | ({"conditions"} if kind in (RuleType.ALL, RuleType.ANY,
                                                     RuleType.NONE) else
                          {"key", "operator", "value"} if kind == RuleType.CONTEXT_VALUE else
                          {"task_name"} if kind != RuleType.ALWAYS else set())
    extra = sorted(set(value) - allowed)
    if extra:
        raise RuleViolation(code, f"a {kind.value} rule has no field {_short(extra[0])}",
                            "trigger_rules")
    if kind == RuleType.ALWAYS:
        return TriggerRule(kind)
    if kind in (RuleType.ALL, RuleType.ANY, RuleType.NONE):
        items = value.get("conditions")
        if not isinstance(items, (list, tuple)):
            raise RuleViolation(code, f"a {kind.value} rule needs a list of conditions",
                                "trigger_rules")
        return TriggerRule(kind, conditions=tuple(_rule_node(i, code, depth + 1, counter)
                                                  for i in items))
    if kind == RuleType.CONTEXT_VALUE:
        key = value.get("key")
        if not is_text(key, MAX_NAME) or not key:
            raise RuleViolation(code, "a context_value condition needs a key (a string)",
                                "trigger_rules")
        if "value" not in value or not is_json_data(value["value"]):
            raise RuleViolation(code, "a context_value condition needs a JSON value",
                                "trigger_rules")
        return TriggerRule(kind, key=key, operator=operator(value.get("operator"), code),
                           value=plain_json(value["value"]))
    return TriggerRule(kind, task_name=task_id(value.get("task_name"), code))


# -- triggers, params, secrets ---------------------------------------------------------

def trigger(values: Mapping[str, object], *, function: str, default_name: str,
            workflow: str, source: SourceLocation, code: str = "trigger-argument") -> Trigger:
    unknown = [k for k in values if k not in TRIGGER_ARGS]
    if unknown:
        raise RuleViolation(code, f"@cloaca.trigger has no argument '{_short(unknown[0], False)}'"
                            f"{did_you_mean(str(unknown[0]), TRIGGER_ARGS)}", unknown[0])
    has_cron, has_poll = "cron" in values, "poll_interval" in values
    if has_cron == has_poll:
        raise RuleViolation(code, "a trigger needs exactly one of cron=... or "
                            "poll_interval=...")
    if has_cron:
        schedule = values["cron"]
        if not is_text(schedule, MAX_NAME) or not 5 <= len(schedule.split()) <= 7:
            raise RuleViolation(code, f"cron {_short(schedule)} must be a cron expression of "
                                "5 to 7 fields", "cron")
    else:
        schedule = values["poll_interval"]
        if not isinstance(schedule, str) or not INTERVAL_RE.fullmatch(schedule):
            raise RuleViolation(code, f"poll_interval {_short(schedule)} must look like "
                                "'500ms', '3s', '5m' or '1h'", "poll_interval")
    options = {k: v for k, v in values.items() if k not in ("on", "cron", "poll_interval",
                                                             "name")}
    if not all(is_json_data(v) for v in options.values()):
        raise RuleViolation(code, "trigger options must be JSON-like data")
    return Trigger(
        name=name(values.get("name", default_name), "name", code),
        function=function_ref(function, code),
        on=name(values.get("on", workflow), "on", code),
        kind=TriggerKind.CRON if has_cron else TriggerKind.POLL,
        schedule=schedule,
        options=plain_json(options),
        source=source,
    )


def _type_ok(kind: ParamType, value: object) -> bool:
    if kind == ParamType.FLOAT:
        return (isinstance(value, float) and math.isfinite(value)) or _small_int(value)
    if kind == ParamType.INT:
        return _small_int(value)
    expected: Any = {ParamType.STR: str, ParamType.BOOL: bool, ParamType.LIST: (list, tuple),
                     ParamType.DICT: dict}[kind]
    return isinstance(value, expected) and is_json_data(value)


def param(param_name: object, type_name: object, source: SourceLocation,
          default: object = MISSING, code: str = "workflow-params-argument") -> Param:
    pname = name(param_name, "param name", code)
    if not isinstance(type_name, str) or type_name not in _VALUES[ParamType]:
        raise RuleViolation(code, f"param '{pname}' has type {_short(type_name)}; use one of "
                            f"{', '.join(t.value for t in ParamType)}", pname)
    kind = ParamType(type_name)
    if default is not MISSING and not _type_ok(kind, default):
        raise RuleViolation(code, f"the default of param '{pname}' is {_short(default)}, not "
                            f"a {kind.value}", pname)
    return Param(pname, kind, source, MISSING if default is MISSING else plain_json(default))


def secret(value: object, code: str = "workflow-secrets-argument") -> str:
    if not is_text(value, MAX_NAME) or not value:
        raise RuleViolation(code, f"secret name {_short(value)} must be a non-empty string")
    return value


def sha256_hex(value: object, what: str, code: str) -> str:
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise RuleViolation(code, f"{what} must be 64 lowercase hex digits", what)
    return value
