"""A compatible ``cloaca`` module for packaged code when the real runtime is absent.

It offers what workflow authors use: ``task``, ``trigger``, ``workflow_params``,
``workflow_secrets``, the trigger-rule helpers (``context_value``, ``task_success``, ...,
``all_of``, ``any_of``, ``none_of``, ``always``) and ``Context``.  Every loaded package gets
its own module instance whose :class:`Registry` records what the decorators declared, so two
packages never see each other's tasks.  Rules are the same JSON as the manifest holds.
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import rulebook

RETRY_ARGS = {"retry_attempts": "attempts", "retry_backoff": "backoff",
              "retry_delay_ms": "delay_ms", "retry_max_delay_ms": "max_delay_ms",
              "retry_condition": "condition", "retry_jitter": "jitter"}


class Context:
    """The data a workflow run passes from task to task, as the engine's Context does."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Insert or replace."""
        self._data[key] = value

    def insert(self, key: str, value: Any) -> None:
        """Add a new key; an existing key is an error (as in the engine)."""
        if key in self._data:
            raise KeyError(f"context key {key!r} already exists; use update() or set()")
        self._data[key] = value

    def update(self, key: str, value: Any) -> None:
        """Replace an existing key; a missing key is an error (as in the engine)."""
        if key not in self._data:
            raise KeyError(f"context key {key!r} does not exist; use insert() or set()")
        self._data[key] = value

    def delete(self, key: str) -> None:
        if key not in self._data:
            raise KeyError(f"context key {key!r} does not exist")
        del self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def keys(self):
        return self._data.keys()

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"Context({self._data!r})"


@dataclass
class RegisteredTask:
    id: str
    function: Callable[..., Any]
    dependencies: list[str]
    retry: dict[str, Any]
    trigger_rules: dict[str, Any] | None
    is_async: bool

    @property
    def qualified_name(self) -> str:
        return f"{self.function.__module__}:{self.function.__qualname__}"


@dataclass
class Registry:
    tasks: dict[str, RegisteredTask] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    _by_function: dict[int, str] = field(default_factory=dict)

    def task_id_of(self, dep: Any) -> str:
        if isinstance(dep, str):
            return dep
        if id(dep) in self._by_function:
            return self._by_function[id(dep)]
        return getattr(dep, "__name__", str(dep))


def _condition(kind: str, **fields) -> dict[str, Any]:
    return {"type": kind, **fields}


def make_module(registry: Registry | None = None) -> types.ModuleType:
    """A fresh ``cloaca`` module bound to ``registry``."""
    registry = registry or Registry()
    mod = types.ModuleType("cloaca", "cloacina-build's compatible cloaca module")
    mod.__dict__.update(__cloacina_compat__=True, registry=registry, Context=Context,
                        TriggerResult=TriggerResult, **_decorators(registry), **RULE_HELPERS)
    return mod


def _task_decorator(registry: Registry) -> Callable[..., Any]:
    """``cloaca.task``, recording into ``registry``."""

    def task(func: Callable | None = None, *, id: str | None = None,
             dependencies: list | tuple | None = None, trigger_rules: dict | None = None,
             **options: Any):
        unknown = sorted(set(options) - set(RETRY_ARGS))
        if unknown:
            raise TypeError(f"cloaca.task() got an unexpected keyword argument {unknown[0]!r}")

        def register(fn: Callable) -> Callable:
            task_id = id or fn.__name__
            if task_id in registry.tasks:
                registry.duplicates.append(task_id)
            registry.tasks[task_id] = RegisteredTask(
                task_id, fn, [registry.task_id_of(d) for d in dependencies or []],
                {RETRY_ARGS[k]: (v.lower() if isinstance(v, str) else v)
                 for k, v in options.items()},
                _as_rule(trigger_rules), inspect.iscoroutinefunction(fn))
            registry._by_function[builtins_id(fn)] = task_id
            return fn

        return register(func) if func is not None else register

    return task


def _decorators(registry: Registry) -> dict[str, Callable[..., Any]]:
    """``task``, ``trigger``, ``workflow_params`` and ``workflow_secrets``, recording into
    ``registry``."""

    def trigger(func: Callable | None = None, **options: Any):
        def register(fn: Callable) -> Callable:
            registry.triggers.append({"name": options.get("name", fn.__name__),
                                      "function": fn, **options})
            return fn
        return register(func) if func is not None else register

    def workflow_params(**params: Any):
        def register(fn: Callable) -> Callable:
            registry.params.update(params)
            return fn
        return register

    def workflow_secrets(*names: str):
        def register(fn: Callable) -> Callable:
            registry.secrets.extend(n for n in names if n not in registry.secrets)
            return fn
        return register

    return {"task": _task_decorator(registry), "trigger": trigger,
            "workflow_params": workflow_params, "workflow_secrets": workflow_secrets}


def context_value(key: str, operator: str, value: Any = None) -> dict[str, Any]:
    """A ``ContextValue`` condition; the operator is read by the rule book."""
    try:
        op = rulebook.operator(operator)
    except rulebook.RuleViolation as exc:
        raise ValueError(exc.message) from None
    return _condition("ContextValue", key=key, operator=str(op), value=value)


RULE_HELPERS: dict[str, Callable[..., dict[str, Any]]] = {
    "context_value": context_value,
    "task_success": lambda name: _condition("TaskSuccess", task_name=name),
    "task_failed": lambda name: _condition("TaskFailed", task_name=name),
    "task_skipped": lambda name: _condition("TaskSkipped", task_name=name),
    "all_of": lambda conditions: _condition("All", conditions=list(conditions)),
    "any_of": lambda conditions: _condition("Any", conditions=list(conditions)),
    "none_of": lambda conditions: _condition("None", conditions=list(conditions)),
    "always": lambda: _condition("Always"),
}


builtins_id = id  # ``task`` takes an ``id`` argument, which shadows the builtin inside it


def _as_rule(rule: dict | None) -> dict | None:
    if rule is None:
        return None
    if rule.get("type") in ("Always", "All", "Any", "None"):
        return rule
    return {"type": "All", "conditions": [rule]}


class TriggerResult:
    """What a poll trigger returns: fire (with an optional context) or skip."""

    def __init__(self, fire: bool, context: dict | None = None) -> None:
        self.should_fire = fire
        self.context = context

    @classmethod
    def fire(cls, context: dict | None = None) -> TriggerResult:
        return cls(True, context)

    @classmethod
    def skip(cls) -> TriggerResult:
        return cls(False)


@functools.cache
def real_cloaca() -> types.ModuleType | None:
    """The real runtime, when it is importable (it never is on these machines)."""
    try:
        import cloaca
    except ImportError:
        return None
    if getattr(cloaca, "__cloacina_compat__", False):
        return None
    return cloaca
