"""A workflow as declared: tasks, retry policies, trigger rules, triggers and params."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .enums import (
    COMBINATORS,
    JSON,
    TASK_CONDITIONS,
    Backoff,
    Operator,
    ParamType,
    RetryCondition,
    RuleType,
    TriggerKind,
)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int

    def to_dict(self) -> dict[str, JSON]:
        return {"file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry policy as declared: ``None`` means "not declared" (the runtime's default)."""

    attempts: int | None = None
    backoff: Backoff | None = None
    delay_ms: int | None = None
    max_delay_ms: int | None = None
    condition: RetryCondition | None = None
    jitter: bool | None = None

    def to_dict(self) -> dict[str, JSON]:
        """The declared settings only (a 50,000-task manifest calls this once per task)."""
        items = (("attempts", self.attempts), ("backoff", self.backoff),
                 ("delay_ms", self.delay_ms), ("max_delay_ms", self.max_delay_ms),
                 ("condition", self.condition), ("jitter", self.jitter))
        return {k: v.value if isinstance(v, StrEnum) else v for k, v in items if v is not None}


@dataclass(frozen=True, slots=True)
class TriggerRule:
    """A trigger-rule node: ``Always``, a combinator with ``conditions``, a ``ContextValue``
    test (``key``, ``operator``, ``value``) or a task-state test (``task_name``)."""

    type: RuleType
    conditions: tuple[TriggerRule, ...] = ()
    key: str | None = None
    operator: Operator | None = None
    value: JSON = None
    task_name: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"type": str(self.type)}
        if self.type in COMBINATORS:
            out["conditions"] = [c.to_dict() for c in self.conditions]
        elif self.type == RuleType.CONTEXT_VALUE:
            out.update(key=self.key, operator=str(self.operator), value=self.value)
        elif self.type in TASK_CONDITIONS:
            out["task_name"] = self.task_name
        return out

    def task_names(self) -> list[str]:
        """Task names this rule refers to (for graph checks), in order."""
        out: list[str] = []
        stack: list[TriggerRule] = [self]
        while stack:
            node = stack.pop()
            if node.task_name is not None:
                out.append(node.task_name)
            stack.extend(reversed(node.conditions))
        return out


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    function: str                      # "module.path:function_name"
    dependencies: tuple[str, ...]
    retry: Retry
    trigger_rules: TriggerRule | None
    is_async: bool
    doc: str | None
    source: SourceLocation
    fingerprint: str

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "function": self.function,
            "dependencies": list(self.dependencies),
            "retry": self.retry.to_dict(),
            "trigger_rules": self.trigger_rules.to_dict() if self.trigger_rules else None,
            "is_async": self.is_async,
            "doc": self.doc,
            "source": self.source.to_dict(),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str
    function: str
    on: str
    kind: TriggerKind
    schedule: str
    options: dict[str, JSON]
    source: SourceLocation

    def to_dict(self) -> dict[str, JSON]:
        return {"name": self.name, "function": self.function, "on": self.on,
                "kind": str(self.kind), "schedule": self.schedule,
                "options": dict(self.options), "source": self.source.to_dict()}


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()  # a param with no default (``None`` is a valid default)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: ParamType
    source: SourceLocation
    default: JSON = MISSING

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"name": self.name, "type": str(self.type),
                                "required": self.required, "source": self.source.to_dict()}
        if not self.required:
            out["default"] = self.default
        return out


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    entry_module: str
    fingerprint: str
    fingerprint_algorithm: str
    tasks: tuple[Task, ...]          # sorted by id
    triggers: tuple[Trigger, ...]    # sorted by name
    params: tuple[Param, ...]        # sorted by name
    secrets: tuple[str, ...]         # sorted

    def to_dict(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "entry_module": self.entry_module,
            "fingerprint": self.fingerprint,
            "fingerprint_algorithm": self.fingerprint_algorithm,
            "tasks": [t.to_dict() for t in self.tasks],
            "triggers": [t.to_dict() for t in self.triggers],
            "params": [p.to_dict() for p in self.params],
            "secrets": list(self.secrets),
        }
