"""``diff``: what changed between two versions of a workflow.

Each side is a package of either format (its head only) or a project directory (static
discovery, nothing built), read by :func:`~cloacina_build.ops.describe.describe_path`.
The result, a :class:`WorkflowDiff`, holds the tasks (added, removed, renamed, changed: see
:mod:`.diff_tasks` for what a rename is), the graph's edges, the workflow's own fields,
triggers, params, secrets, the package's metadata, payload, native facts and signatures,
and the build facts.  Everything but the build facts counts as a difference
(:attr:`WorkflowDiff.differs`); the build facts (tool version, Python, backend, source
revision, timestamps, the digest and the file size) are informational, since building the
same workflow twice differs only there.  Linear in the number of tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import CloacinaError, UsageError
from ..progress import NO_PROGRESS, Progress
from .describe import PROJECT, Description, describe_path
from .diff_fields import (
    Change,
    NamedDiff,
    SetDiff,
    changes_dict,
    diff_named,
    diff_set,
    field_changes,
)
from .diff_files import FilesDiff
from .diff_package import (
    PayloadDiff,
    build_changes,
    native_changes,
    package_changes,
    payload_diff,
    signature_diff,
)
from .diff_summary import counted, fields, named
from .diff_tasks import EdgeDiff, TaskDiff, diff_tasks

WORKFLOW_FIELDS = ("name", "entry_module", "fingerprint_algorithm", "fingerprint")
TRIGGER_FIELDS = ("function", "on", "kind", "schedule", "options")
PARAM_FIELDS = ("type", "required", "default")


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the diff, as the header names it."""

    path: str
    kind: str            # "project", "cloacina" or "engine"
    name: str
    version: str
    workflow: str
    tasks: int

    @classmethod
    def of(cls, d: Description) -> Side:
        return cls(d.path, d.kind, d.package.name, d.package.version, d.workflow.name,
                   len(d.workflow.tasks))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "name": self.name,
                "version": self.version, "workflow": self.workflow, "tasks": self.tasks}


@dataclass(frozen=True)
class WorkflowDiff:
    old: Side
    new: Side
    tasks: TaskDiff
    edges: EdgeDiff
    workflow: tuple[Change, ...]
    triggers: NamedDiff
    params: NamedDiff
    secrets: SetDiff
    package: tuple[Change, ...]
    payload: PayloadDiff
    native: tuple[Change, ...]
    signatures: SetDiff | None          # None: a side is a project (nothing to compare)
    build: tuple[Change, ...]           # informational: never counts as a difference
    notes: tuple[str, ...] = ()
    files: FilesDiff | None = None      # with --payload: the payloads' files, compared

    @property
    def differs_in(self) -> list[str]:
        """The sections that differ, in report order (``build`` is never one)."""
        sections = ("tasks", "edges", "workflow", "triggers", "params", "secrets", "package",
                    "payload", "native", "signatures", "files")
        return [s for s in sections if getattr(self, s)]

    @property
    def differs(self) -> bool:
        return bool(self.differs_in)

    def summary(self) -> str:
        """One line: ``1 task changed, 1 added; 2 edges added; payload differs``."""
        t = self.tasks
        parts = [
            counted("task", [("changed", len(t.changed)), ("added", len(t.added)),
                             ("removed", len(t.removed)), ("renamed", len(t.renamed))]),
            counted("edge", [("added", len(self.edges.added)),
                             ("removed", len(self.edges.removed))]),
            fields("workflow", tuple(c for c in self.workflow if c.field != "fingerprint"
                                     or not (t or self.edges))),
            named("trigger", self.triggers), named("param", self.params),
            named("secret", self.secrets), fields("metadata", self.package),
            "payload differs" if self.payload else "",
            "native facts differ" if self.native else "",
            named("signature", self.signatures),
        ]
        if self.files:
            parts.append(counted("payload file", [
                ("changed", len(self.files.changed)), ("added", len(self.files.added)),
                ("removed", len(self.files.removed))]))
        text = "; ".join(p for p in parts if p) or "no differences"
        if self.build:
            text += f" (build facts differ: {', '.join(c.field for c in self.build)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.differs, "differs": self.differs, "differs_in": self.differs_in,
                "summary": self.summary(), "old": self.old.to_dict(),
                "new": self.new.to_dict(), "tasks": self.tasks.to_dict(),
                "edges": self.edges.to_dict(), "workflow": changes_dict(self.workflow),
                "triggers": self.triggers.to_dict(), "params": self.params.to_dict(),
                "secrets": self.secrets.to_dict(), "package": changes_dict(self.package),
                "payload": self.payload.to_dict(), "native": changes_dict(self.native),
                "signatures": self.signatures.to_dict() if self.signatures is not None
                else None,
                "build": changes_dict(self.build),
                "files": self.files.to_dict() if self.files is not None else None,
                "notes": list(self.notes)}


def diff_descriptions(a: Description, b: Description) -> WorkflowDiff:
    """Compare two described workflows (OLD ``a``, NEW ``b``)."""
    notes: list[str] = []
    wa, wb = a.workflow, b.workflow
    tasks, edges = diff_tasks(wa, wb)
    if wa.fingerprint_algorithm != wb.fingerprint_algorithm:
        notes.append(f"task code not compared: the fingerprints are made by different "
                     f"algorithms ({wa.fingerprint_algorithm}, {wb.fingerprint_algorithm})")
    package = package_changes(a, b, notes)
    payload = payload_diff(a, b)
    if not payload.compared and payload.reason:
        notes.append(f"payload not compared: {payload.reason}")
    if PROJECT in (a.kind, b.kind):
        notes.append("signatures and build facts are compared only between two packages")
    return WorkflowDiff(
        old=Side.of(a), new=Side.of(b), tasks=tasks, edges=edges,
        workflow=field_changes(_workflow(a), _workflow(b), WORKFLOW_FIELDS),
        triggers=diff_named(wa.triggers, wb.triggers, lambda t: t.name,
                            lambda t: t.to_dict(), TRIGGER_FIELDS),
        params=diff_named(wa.params, wb.params, lambda p: p.name, lambda p: p.to_dict(),
                          PARAM_FIELDS),
        secrets=diff_set(wa.secrets, wb.secrets), package=package, payload=payload,
        native=native_changes(a, b), signatures=signature_diff(a, b),
        build=build_changes(a, b), notes=tuple(notes))


def _workflow(d: Description) -> dict[str, Any]:
    w = d.workflow
    return {"name": w.name, "entry_module": w.entry_module, "fingerprint": w.fingerprint,
            "fingerprint_algorithm": w.fingerprint_algorithm}


def diff_paths(old: Path | str, new: Path | str, *, payload: bool = False,
               progress: Progress = NO_PROGRESS) -> WorkflowDiff:
    """Compare the workflows at ``old`` and ``new`` (packages of either format, or project
    directories).  Only the packages' heads are read, unless ``payload`` asks for their
    payloads compared file by file (:mod:`.diff_files`: both packages read once, whole,
    reported to ``progress`` as the steps ``reading OLD`` and ``reading NEW``).
    Any input that cannot be read raises :class:`UsageError` (exit 2, as diff(1) does for
    trouble), keeping the underlying error's code and hint and naming the side."""
    a, b = _described(old, "OLD"), _described(new, "NEW")
    result = diff_descriptions(a, b)
    if not payload:
        return result
    if PROJECT in (a.kind, b.kind):
        return replace(result, notes=(*result.notes, "--payload: no payload files to "
                                      "compare with a project directory"))
    from .diff_files import diff_files, listed

    across = a.payload is not None and b.payload is not None and \
        a.payload.kind != b.payload.kind
    files = diff_files(listed(str(old), "OLD", progress), listed(str(new), "NEW", progress),
                       across_formats=across)
    notes = result.notes
    if across:  # the files were compared: the note saying the payload was not goes
        notes = tuple(n for n in notes if not n.startswith("payload not compared: "))
        notes += ("payload files compared as importable files: the wheel's without its "
                  ".dist-info, the source's workflow/ and vendor/ without the prefix",)
    return replace(result, files=files, notes=notes)


def _described(path: Path | str, side: str) -> Description:
    try:
        return describe_path(path)
    except CloacinaError as exc:
        message = exc.message
        if exc.findings:
            more = len(exc.findings) - 1
            message += f": {exc.findings[0].render()}" + (f" (and {more} more)" if more else "")
        raise UsageError(f"cannot read {side}: {message}", code=exc.code,
                         hint=exc.hint) from exc
