"""The typed workflow model: what a package holds, parsed once and then trusted.

Every reader of a workflow description (inspect, render, validate, the loader, the runner,
signing, diff) works on these frozen objects, never on a raw ``dict``.  Objects are built in
two ways only:

- by the writers (Python and Rust discovery, the builder), through the rule book
  (:mod:`cloacina_build.rulebook`), which decides what a task, retry policy, trigger, param
  or id may be;
- by :meth:`Manifest.parse` from untrusted bytes: a *total* parser that returns a model or
  findings for any input and never raises anything but :class:`~cloacina_build.errors.CloacinaError`.

``to_json`` is canonical (sorted keys, two-space indent, UTF-8, trailing newline) and
``Manifest.parse(m.to_json()).to_json() == m.to_json()`` byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .findings import Finding

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
        out: dict[str, JSON] = {}
        for key in ("attempts", "backoff", "delay_ms", "max_delay_ms", "condition", "jitter"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value) if isinstance(value, StrEnum) else value
        return out


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


@dataclass(frozen=True, slots=True)
class PackageInfo:
    name: str
    version: str
    language: Language
    description: str | None = None
    author: str | None = None
    requires_python: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {"name": self.name, "version": self.version, "language": str(self.language),
                "description": self.description, "author": self.author,
                "requires_python": self.requires_python}


@dataclass(frozen=True, slots=True)
class Payload:
    kind: PayloadKind
    path: str            # "payload/<filename>"
    filename: str
    size: int
    sha256: str
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, JSON]:
        return {"kind": str(self.kind), "path": self.path, "filename": self.filename,
                "size": self.size, "sha256": self.sha256, "tags": list(self.tags)}


@dataclass(frozen=True, slots=True)
class Member:
    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, JSON]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class BuildInfo:
    tool: str
    tool_version: str
    python: str
    backend: str
    source_revision: str | None = None
    source_dirty: bool | None = None
    source_date_epoch: int | None = None

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"tool": self.tool, "tool_version": self.tool_version,
                                "python": self.python, "backend": self.backend,
                                "source_revision": self.source_revision,
                                "source_dirty": self.source_dirty}
        if self.source_date_epoch is not None:
            out["source_date_epoch"] = self.source_date_epoch
        return out


@dataclass(frozen=True, slots=True)
class NativeFacts:
    """What was read from a native payload's ELF binary."""

    target: str
    os: str
    arch: str
    elf_class: int
    machine: str
    endianness: str
    glibc_floor: str | None
    needed: tuple[str, ...]
    exported_symbols: tuple[str, ...]

    def to_dict(self) -> dict[str, JSON]:
        return {"target": self.target, "os": self.os, "arch": self.arch,
                "elf_class": self.elf_class, "machine": self.machine,
                "endianness": self.endianness, "glibc_floor": self.glibc_floor,
                "needed": list(self.needed), "exported_symbols": list(self.exported_symbols)}


@dataclass(frozen=True, slots=True)
class Manifest:
    package: PackageInfo
    workflow: Workflow
    payload: Payload
    members: tuple[Member, ...]      # sorted by path
    build: BuildInfo
    native: NativeFacts | None = None
    format: str = "cloacina-package"
    format_version: int = 1

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "format": self.format,
            "format_version": self.format_version,
            "package": self.package.to_dict(),
            "workflow": self.workflow.to_dict(),
            "payload": self.payload.to_dict(),
            "members": [m.to_dict() for m in self.members],
            "build": self.build.to_dict(),
        }
        if self.native is not None:
            out["native"] = self.native.to_dict()
        return out

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, two-space indent, UTF-8, a trailing newline."""
        return canonical_json(self.to_dict())

    @classmethod
    def parse(cls, data: bytes) -> tuple[Manifest | None, list[Finding]]:
        """A model, or findings, for *any* bytes (see :mod:`cloacina_build.manifest_parser`)."""
        from .manifest_parser import parse_manifest

        return parse_manifest(data)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """The model, or :class:`~cloacina_build.errors.PackageError` with the findings."""
        from .errors import PackageError

        manifest, findings = cls.parse(data)
        if manifest is None:
            first = findings[0] if findings else None
            raise PackageError(first.message if first else "manifest.json is unusable",
                               code=first.code if first else "manifest-unusable",
                               findings=findings)
        return manifest


def canonical_json(value: JSON) -> bytes:
    """``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)``
    and a newline, as UTF-8 (a faster writer of the same bytes: see canonical.py)."""
    from .canonical import dumps

    return dumps(value)


@dataclass(frozen=True, slots=True)
class PackageMetadata:
    """``package.toml`` as stored in a package: the identity and the project's metadata."""

    name: str
    version: str
    metadata: dict[str, JSON] = field(default_factory=dict)
