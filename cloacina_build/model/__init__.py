"""The typed workflow model: what a package holds, parsed once and then trusted.

Every reader of a workflow description (inspect, render, validate, the loader, the runner,
signing, diff) works on these frozen objects, never on a raw ``dict``.  Objects are built in
two ways only:

- by the writers (Python and Rust discovery, the builder), through the rule book
  (:mod:`cloacina_build.rulebook`), which decides what a task, retry policy, trigger, param
  or id may be;
- by :meth:`Manifest.parse` from untrusted bytes: a *total* parser that returns a model or
  findings for any input and never raises anything but
  :class:`~cloacina_build.errors.CloacinaError`.

``to_json`` is canonical (sorted keys, two-space indent, UTF-8, trailing newline) and
``Manifest.parse(m.to_json()).to_json() == m.to_json()`` byte for byte.
"""

from __future__ import annotations

from .enums import (
    COMBINATORS,
    JSON,
    TASK_CONDITIONS,
    Backoff,
    Language,
    Layout,
    Operator,
    ParamType,
    PayloadKind,
    RetryCondition,
    RuleType,
    RunStatus,
    Severity,
    SignatureStatus,
    TaskStatus,
    TriggerKind,
)
from .manifest import Manifest, canonical_json
from .package import (
    BuildInfo,
    Member,
    NativeFacts,
    PackageInfo,
    PackageMetadata,
    Payload,
)
from .workflow import (
    MISSING,
    Param,
    Retry,
    SourceLocation,
    Task,
    Trigger,
    TriggerRule,
    Workflow,
)

__all__ = [
    "Backoff",
    "BuildInfo",
    "COMBINATORS",
    "JSON",
    "Language",
    "Layout",
    "MISSING",
    "Manifest",
    "Member",
    "NativeFacts",
    "Operator",
    "PackageInfo",
    "PackageMetadata",
    "Param",
    "ParamType",
    "Payload",
    "PayloadKind",
    "Retry",
    "RetryCondition",
    "RuleType",
    "RunStatus",
    "Severity",
    "SignatureStatus",
    "SourceLocation",
    "TASK_CONDITIONS",
    "Task",
    "TaskStatus",
    "Trigger",
    "TriggerKind",
    "TriggerRule",
    "Workflow",
    "canonical_json",
]
