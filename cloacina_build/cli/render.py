"""Text for people: the readable forms of inspect, validate and package results."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..model import (
    Language,
    Retry,
    SignatureStatus,
    Workflow,
)
from ..ops.rule_words import rule_text
from ..ops.rule_words import short_value as _value
from .terminal import printable

if TYPE_CHECKING:  # pragma: no cover
    from ..ops.engine import EngineInspection
    from ..ops.inspect import Inspection
    from ..trust.signatures import SignatureVerdict




def _lines(lines: list[str]) -> str:
    return "\n".join(printable(line) for line in lines)


def human_size(n: int | None) -> str:
    if not isinstance(n, int):
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def tries(n: int) -> str:
    return f"{n} {'try' if n == 1 else 'tries'}"


def retries(n: int) -> str:
    """``attempts`` as declared is the number of retries after the first try (the engine's
    ``retry_attempts``): "1 retry" means at most 2 tries, and ``run`` counts tries."""
    return f"{n} {'retry' if n == 1 else 'retries'}"


def _retry(retry: Retry) -> str:
    parts = []
    if retry.attempts is not None:
        parts.append(retries(retry.attempts))
    if retry.backoff is not None:
        parts.append(retry.backoff.value)
    if retry.delay_ms is not None:
        parts.append(f"{retry.delay_ms}ms")
    return " ".join(parts) or "-"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
            for r in rows]


def inspect_text(info: Inspection | EngineInspection) -> str:
    from ..ops.inspect import Inspection

    if not isinstance(info, Inspection):
        return engine_inspect_text(info)
    m = info.manifest
    lines = _package_lines(info) + [""] + _workflow_lines(m.workflow, info.levels) + [""]
    lines += _declaration_lines(m.workflow) + [""]
    if info.signatures:
        lines.append("Signatures")
        lines += signature_lines(info.signatures, head_only=True)
        lines.append("  (embedded ones checked against the manifest only; 'cloacinactl "
                     "verify' checks every byte)")
    else:
        lines.append("Signatures: none (unsigned)")
    return _lines(lines)


def engine_inspect_text(info: EngineInspection) -> str:
    """An engine archive: the same workflow table as a package built here."""
    pkg, a = info.package, info.archive
    lines = [f"{pkg['name']} {pkg['version']}  ({pkg['language']}, engine archive: bzip2 "
             "source)"]
    for label in ("description", "author", "requires_python"):
        if pkg.get(label):
            lines.append(f"  {label.replace('_', '-') + ':':17}{pkg[label]}")
    if info.note is None:
        lines.append(f"  {'root:':17}{a.root}/ ({len(a.members)} member(s))")
    else:  # only the head was read: the archive's other members were not counted
        lines.append(f"  {'root:':17}{a.root}/ (only its first {len(a.members)} members "
                     "read)")
    lines.append(f"  {'package size:':17}{human_size(a.file_size)} on disk")
    if a.trailing is not None:
        lines.append(f"  {'trailing:':17}{human_size(a.trailing.size)} after the first "
                     f"stream ({a.trailing.kind}; the engine ignores it)")
    if a.build_manifest is not None:
        lines.append(f"  {'build manifest:':17}.cloacina-build/manifest.json")
    if info.note is not None:
        lines.append(f"  {'tasks from:':17}the build manifest, read from the archive's "
                     "first members")
        lines.append(f"  {'':17}('cloacinactl validate' checks them against the source)")
    lines += [""] + _workflow_lines(info.workflow, info.levels) + [""]
    lines += _declaration_lines(info.workflow) + [""]
    if info.signatures:
        lines.append("Signatures")
        lines += signature_lines(info.signatures)
    else:
        lines.append("Signatures: none (unsigned)")
    problems = [f for f in info.findings if f.is_error]
    if problems or info.findings:
        lines += ["", f"Findings: {len(problems)} error(s), "
                  f"{len(info.findings) - len(problems)} warning(s) "
                  "('cloacinactl validate' lists them)"]
    return _lines(lines)


def _package_lines(info: Inspection) -> list[str]:
    pkg, payload, native = info.manifest.package, info.manifest.payload, info.manifest.native
    lines = [f"{pkg.name} {pkg.version}  ({pkg.language.value}, {payload.kind.value} payload)"]
    for label, value in (("description", pkg.description), ("author", pkg.author),
                         ("requires-python", None if pkg.language is Language.RUST
                          else pkg.requires_python or "any")):
        if value:
            lines.append(f"  {label + ':':17}{value}")
    lines.append(f"  {'payload:':17}{payload.filename} ({human_size(payload.size)})")
    lines.append(f"  {'platform tags:':17}{', '.join(payload.tags)}")
    if native is not None:
        lines.append(f"  {'native:':17}ELF{native.elf_class} {native.machine} "
                     f"({native.arch}, {native.os}, {native.endianness}-endian), glibc >= "
                     f"{native.glibc_floor or 'none'}")
        symbols = native.exported_symbols
        shown = ", ".join(symbols[:5]) + (", ..." if len(symbols) > 5 else "")
        lines.append(f"  {'exports:':17}{len(symbols)} symbol(s): {shown or '-'}")
    lines.append(f"  {'payload sha256:':17}{payload.sha256}")
    lines.append(f"  {'package size:':17}{human_size(info.file_size)} on disk")
    lines.append(f"  {'digest:':17}{info.digest}")
    return lines


def _workflow_lines(wf: Workflow, levels: list[list[str]]) -> list[str]:
    lines = [f"Workflow {wf.name}  (entry module {wf.entry_module})",
             f"  fingerprint: {wf.fingerprint}"]
    rows = [["TASK", "DEPENDS ON", "RETRY", "FINGERPRINT", "RUNS WHEN"]]
    for t in sorted(wf.tasks, key=lambda t: t.id):
        when = rule_text(t.trigger_rules)
        rows.append([t.id + (" (async)" if t.is_async else ""),
                     ", ".join(t.dependencies) or "-", _retry(t.retry),
                     t.fingerprint[:12], "always" if when == "-" else when])
    lines += _table(rows)
    lines.append("  execution levels:")
    for i, level in enumerate(levels, 1):
        lines.append(f"    {i}. {', '.join(level)}")
    return lines


def _declaration_lines(wf: Workflow) -> list[str]:
    lines = []
    if wf.triggers:
        lines.append("Triggers")
        for t in wf.triggers:
            lines.append(f"  {t.name}: {t.kind.value} {t.schedule} -> {t.on}")
    else:
        lines.append("Triggers: none")
    if wf.params:
        lines.append("Params")
        for p in wf.params:
            extra = "required" if p.required else f"default {_value(p.default)}"
            lines.append(f"  {p.name}: {p.type.value} ({extra})")
    else:
        lines.append("Params: none")
    if wf.secrets:
        lines.append(f"Secrets: {', '.join(wf.secrets)}")
    return lines


def _status(status: SignatureStatus, head_only: bool) -> str:
    if status is SignatureStatus.VERIFIED:
        return "trusted key, valid over the manifest" if head_only else "verified"
    return STATUS_TEXT.get(status, status.value)


STATUS_TEXT = {
    SignatureStatus.UNKNOWN: "unknown key (no --trust given)",
    SignatureStatus.UNTRUSTED: "NOT TRUSTED", SignatureStatus.EXPIRED: "KEY EXPIRED",
    SignatureStatus.REVOKED: "KEY REVOKED", SignatureStatus.INVALID: "INVALID SIGNATURE",
    SignatureStatus.WRONG_PACKAGE: "MADE FOR ANOTHER PACKAGE",
    SignatureStatus.CONTENT_MISMATCH: "CONTENT CHANGED SINCE SIGNING",
    SignatureStatus.MALFORMED: "MALFORMED",
}


def signature_lines(signatures: list[SignatureVerdict], head_only: bool = False) -> list[str]:
    """One line a signature; ``head_only``: only the manifest was checked (inspect)."""
    lines = []
    for s in signatures:
        if not s.well_formed:
            lines.append(f"  {s.member}: malformed")
            continue
        comment = f'  "{s.comment}"' if s.comment else ""
        kind = f" (detached: {os.path.basename(s.member)})" if s.detached else ""
        status = _status(s.status, head_only and not s.detached)  # a .sig: the whole file
        lines.append(f"  {s.signer or '?'}  key {(s.key_id or '')[:16]}  "
                     f"{s.signed_at}{comment}{kind}: {status}")
    return lines


def validate_text(report, quiet: bool = False) -> str:
    """``quiet``: the errors only, not the warnings (the last line counts both)."""
    lines = []
    for f in report.errors if quiet else report.findings:
        lines.append(f.render())
    if report.signatures:
        lines.append("signatures:")
        lines += signature_lines(report.signatures)
    lines.append(validate_summary(report))
    return _lines(lines)


def validate_summary(report) -> str:
    """The last line of ``validate``: ``valid: NAME VERSION (KIND)`` or ``invalid: ...``."""
    what = f"{report.name} {report.version}" if report.name else report.path
    if report.ok:
        extra = f" with {len(report.warnings)} warning(s)" if report.warnings else ""
        return f"valid: {what} ({report.kind}){extra}"
    return (f"invalid: {what} ({report.kind}): {len(report.errors)} error(s), "
            f"{len(report.warnings)} warning(s)")


def shown_path(path) -> str:
    """A path relative to the working directory when it lies below it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def package_text(result) -> str:
    m = result.manifest
    return (f"built {shown_path(result.path)}\n"
            f"  {m.package.name} {m.package.version}, workflow "
            f"{m.workflow.name} with {len(m.workflow.tasks)} task(s), "
            f"{human_size(result.size)}\n"
            f"  digest {result.digest}")


def verify_text(report, quiet: bool = False) -> str:
    """``quiet``: the errors only, not the warnings."""
    what = f"{report.name} {report.version}" if report.name else report.path
    lines = [f.render() for f in (report.errors if quiet else report.findings)]
    if report.signatures:
        lines.append("signatures:")
        lines += signature_lines(report.signatures)
    provenance = report.provenance
    if provenance is not None:
        from .provenance_text import provenance_lines

        lines += provenance_lines(provenance)
    if report.ok:
        attested = ", build provenance verified" if provenance is not None else ""
        lines.append(f"verified: {what}, signed by {', '.join(report.verified_by)}{attested}")
    else:
        lines.append(f"not verified: {what}: {len(report.errors)} error(s)")
    return _lines(lines)


def key_text(key_id: str, name: str, paths: tuple | None = None) -> str:
    lines = []
    if paths:
        lines += [f"wrote {shown_path(paths[0])} (private, keep secret)",
                  f"wrote {shown_path(paths[1])} (public, give to verifiers)"]
    lines += [f"name: {name}", f"id:   {key_id}"]
    return _lines(lines)


_EVENT_MARK = {"started": "->", "completed": "ok", "retry": "..", "skipped": "--",
               "failed": "!!", "not_run": "  "}


def run_event_line(event) -> str:
    """One progress line; ``event.attempt`` is the try that just ended (1 = the first)."""
    detail = f": {event.detail}" if event.detail else ""
    attempt = f" (after {tries(event.attempt)})" if event.kind == "failed" else ""
    words = {"not_run": "not run",
             "retry": f"try {event.attempt} failed"}.get(event.kind, event.kind)
    return f"[{event.elapsed * 1000:8.1f} ms] {_EVENT_MARK[event.kind]} {event.task} " \
           f"{words}{attempt}{detail}"


def run_text(result) -> str:
    lines = [f"{result.workflow}: {result.status} in {result.duration * 1000:.1f} ms"]
    rows = [["TASK", "STATUS", "TRIES", "TIME"]]
    for task_id, outcome in result.tasks.items():
        took = f"{outcome.duration * 1000:.1f} ms" if outcome.duration is not None else "-"
        rows.append([task_id, outcome.status.replace("_", " "), str(outcome.attempts or "-"),
                     took])
    lines += _table(rows)
    return "\n".join(lines)
