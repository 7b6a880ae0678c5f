"""The closed sets of the model: severities, languages, layouts, kinds, statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

JSON = Any  # a value that survives a JSON round trip (checked by the rule book)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Language(StrEnum):
    PYTHON = "python"
    RUST = "rust"


class Layout(StrEnum):
    """How a project is laid out on disk."""

    CANONICAL = "canonical"  # package.toml + workflow/
    PEP621 = "pep621"        # pyproject.toml with [tool.cloacina]
    CARGO = "cargo"          # a Rust cdylib crate


class PayloadKind(StrEnum):
    WHEEL = "wheel"
    NATIVE = "native"
    SOURCE = "source"  # an engine-format archive: the source tree is the payload


class Backoff(StrEnum):
    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class RetryCondition(StrEnum):
    NEVER = "never"
    TRANSIENT = "transient"
    ALL = "all"


class TriggerKind(StrEnum):
    CRON = "cron"
    POLL = "poll"


class ParamType(StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    LIST = "list"
    DICT = "dict"


class RuleType(StrEnum):
    """Trigger-rule nodes, in the engine's JSON spelling."""

    ALWAYS = "Always"
    ALL = "All"
    ANY = "Any"
    NONE = "None"
    CONTEXT_VALUE = "ContextValue"
    TASK_SUCCESS = "TaskSuccess"
    TASK_FAILED = "TaskFailed"
    TASK_SKIPPED = "TaskSkipped"


COMBINATORS = frozenset({RuleType.ALL, RuleType.ANY, RuleType.NONE})
TASK_CONDITIONS = frozenset({RuleType.TASK_SUCCESS, RuleType.TASK_FAILED,
                             RuleType.TASK_SKIPPED})


class Operator(StrEnum):
    EQUALS = "Equals"
    NOT_EQUALS = "NotEquals"
    GREATER_THAN = "GreaterThan"
    LESS_THAN = "LessThan"
    CONTAINS = "Contains"
    NOT_CONTAINS = "NotContains"
    EXISTS = "Exists"
    NOT_EXISTS = "NotExists"


class TaskStatus(StrEnum):
    """What became of a task in a run."""

    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not_run"  # a dependency failed or was not run, or the run failed first


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


class SignatureStatus(StrEnum):
    """The verdict on one signature (see docs/signing.md)."""

    VERIFIED = "verified"
    UNTRUSTED = "untrusted"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INVALID = "invalid"
    UNKNOWN = "unknown"                    # well formed and valid, but no trust store given
    WRONG_PACKAGE = "wrong-package"        # made for another package (or other bytes)
    CONTENT_MISMATCH = "content-mismatch"  # the content changed after signing
    MALFORMED = "malformed"                # not a signature record at all
