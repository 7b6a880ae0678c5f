"""Text for people: the readable forms of inspect, validate and package results."""

from __future__ import annotations

from typing import Any


def human_size(n: int | None) -> str:
    if not isinstance(n, int):
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _retry(retry: dict) -> str:
    if not retry:
        return "-"
    parts = []
    if "attempts" in retry:
        parts.append(f"{retry['attempts']}x")
    if "backoff" in retry:
        parts.append(str(retry["backoff"]))
    if "delay_ms" in retry:
        parts.append(f"{retry['delay_ms']}ms")
    return " ".join(parts) or "-"


_OPS = {"Equals": "==", "NotEquals": "!=", "GreaterThan": ">", "LessThan": "<",
        "Contains": "contains", "NotContains": "not contains"}
_TASK_STATES = {"TaskSuccess": "succeeded", "TaskFailed": "failed", "TaskSkipped": "skipped"}


def rule_text(rule: Any) -> str:
    """A trigger rule in words: ``valid_orders exists and validate_orders succeeded``."""
    if not isinstance(rule, dict) or rule.get("type") in (None, "Always"):
        return "-"
    kind = rule["type"]
    if kind == "ContextValue":
        op = rule.get("operator")
        if op in ("Exists", "NotExists"):
            return f"{rule.get('key')} {'exists' if op == 'Exists' else 'does not exist'}"
        return f"{rule.get('key')} {_OPS.get(op, op)} {rule.get('value')!r}"
    if kind in _TASK_STATES:
        return f"{rule.get('task_name')} {_TASK_STATES[kind]}"
    parts = [rule_text(c) for c in rule.get("conditions") or []]
    if kind == "None":
        return "not (" + " or ".join(parts) + ")"
    joined = (" and " if kind == "All" else " or ").join(parts)
    return joined if len(parts) == 1 else f"({joined})"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def inspect_text(info: dict[str, Any]) -> str:
    pkg, wf, payload = info["package"], info["workflow"], info["payload"]
    lines = [f"{pkg['name']} {pkg['version']}  ({pkg['language']}, {payload['kind']} payload)"]
    for label, value in (("description", pkg.get("description")),
                         ("author", pkg.get("author")),
                         ("requires-python", None if pkg.get("language") == "rust"
                          else pkg.get("requires_python") or "any")):
        if value:
            lines.append(f"  {label + ':':17}{value}")
    lines.append(f"  {'payload:':17}{payload['filename']} ({human_size(payload['size'])})")
    lines.append(f"  {'platform tags:':17}{', '.join(payload.get('tags') or [])}")
    native = info.get("native")
    if isinstance(native, dict):
        lines.append(f"  {'native:':17}ELF{native.get('elf_class')} {native.get('machine')} "
                     f"({native.get('arch')}, {native.get('os')}, "
                     f"{native.get('endianness')}-endian), glibc >= "
                     f"{native.get('glibc_floor') or 'none'}")
        symbols = native.get("exported_symbols") or []
        shown = ", ".join(map(str, symbols[:5])) + (", ..." if len(symbols) > 5 else "")
        lines.append(f"  {'exports:':17}{len(symbols)} symbol(s): {shown or '-'}")
    lines.append(f"  {'payload sha256:':17}{payload['sha256']}")
    lines.append(f"  {'package size:':17}{human_size(info['sizes']['file'])} on disk")
    lines.append(f"  {'digest:':17}{info['digest']}")
    lines.append("")
    lines.append(f"Workflow {wf['name']}  (entry module {wf['entry_module']})")
    lines.append(f"  fingerprint: {wf['fingerprint']}")
    tasks = info["tasks"]
    rows = [["TASK", "DEPENDS ON", "RETRY", "FINGERPRINT", "RUNS WHEN"]]
    for t in sorted(tasks, key=lambda t: t["id"]):
        when = rule_text(t.get("trigger_rules"))
        rows.append([t["id"] + (" (async)" if t["is_async"] else ""),
                     ", ".join(t["dependencies"]) or "-", _retry(t["retry"]),
                     t["fingerprint"][:12], "always" if when == "-" else when])
    lines += _table(rows)
    lines.append("  execution levels:")
    for i, level in enumerate(wf["levels"], 1):
        lines.append(f"    {i}. {', '.join(level)}")
    lines.append("")
    if info["triggers"]:
        lines.append("Triggers")
        for t in info["triggers"]:
            lines.append(f"  {t.get('name')}: {t.get('kind')} {t.get('schedule')} -> "
                         f"{t.get('on')}")
    else:
        lines.append("Triggers: none")
    if info["params"]:
        lines.append("Params")
        for p in info["params"]:
            extra = "required" if p.get("required") else f"default {p.get('default')!r}"
            lines.append(f"  {p.get('name')}: {p.get('type')} ({extra})")
    else:
        lines.append("Params: none")
    if info["secrets"]:
        lines.append(f"Secrets: {', '.join(map(str, info['secrets']))}")
    lines.append("")
    if info["signatures"]:
        lines.append("Signatures")
        lines += signature_lines(info["signatures"], head_only=True)
        lines.append("  (checked against the manifest only; 'cloacinactl verify' checks "
                     "every byte)")
    else:
        lines.append("Signatures: none (unsigned)")
    return "\n".join(lines)


def _status(status: Any, head_only: bool) -> str:
    if status == "verified":
        return "trusted key, valid over the manifest" if head_only else "verified"
    return STATUS_TEXT.get(status, str(status))


STATUS_TEXT = { "unknown": "unknown key (no --trust given)",
    "untrusted": "NOT TRUSTED", "expired": "KEY EXPIRED", "revoked": "KEY REVOKED",
    "invalid": "INVALID SIGNATURE", "wrong-package": "MADE FOR ANOTHER PACKAGE",
    "content-mismatch": "CONTENT CHANGED SINCE SIGNING", "malformed": "MALFORMED",
}


def signature_lines(signatures: list[dict[str, Any]], head_only: bool = False) -> list[str]:
    """One line a signature; ``head_only``: only the manifest was checked (inspect)."""
    lines = []
    for s in signatures:
        if s.get("status") == "malformed" or "key_id" not in s:
            lines.append(f"  {s.get('member')}: malformed")
            continue
        comment = f'  "{s["comment"]}"' if s.get("comment") else ""
        kind = " (detached)" if s.get("detached") else ""
        lines.append(f"  {s.get('signer') or '?'}  key {s['key_id'][:16]}  "
                     f"{s.get('signed_at')}{comment}{kind}: "
                     f"{_status(s.get('status'), head_only)}")
    return lines


def validate_text(report) -> str:
    lines = []
    for f in report.findings:
        lines.append(f.render())
    if report.signatures:
        lines.append("signatures:")
        lines += signature_lines(report.signatures)
    what = f"{report.name} {report.version}" if report.name else report.path
    if report.ok:
        extra = f" with {len(report.warnings)} warning(s)" if report.warnings else ""
        lines.append(f"valid: {what} ({report.kind}){extra}")
    else:
        lines.append(f"invalid: {what} ({report.kind}): {len(report.errors)} error(s), "
                     f"{len(report.warnings)} warning(s)")
    return "\n".join(lines)


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


def verify_text(report) -> str:
    what = f"{report.name} {report.version}" if report.name else report.path
    lines = [f.render() for f in report.findings]
    if report.signatures:
        lines.append("signatures:")
        lines += signature_lines(report.signatures)
    if report.ok:
        lines.append(f"verified: {what}, signed by {', '.join(report.verified_by)}")
    else:
        lines.append(f"not verified: {what}: {len(report.errors)} error(s)")
    return "\n".join(lines)


def key_text(key_id: str, name: str, paths: tuple | None = None) -> str:
    lines = []
    if paths:
        lines += [f"wrote {shown_path(paths[0])} (private, keep secret)",
                  f"wrote {shown_path(paths[1])} (public, give to verifiers)"]
    lines += [f"name: {name}", f"id:   {key_id}"]
    return "\n".join(lines)


_EVENT_MARK = {"started": "->", "completed": "ok", "retry": "..", "skipped": "--",
               "failed": "!!", "not_run": "  "}


def run_event_line(event) -> str:
    detail = f": {event.detail}" if event.detail else ""
    attempt = f" (attempt {event.attempt})" if event.kind in ("retry", "failed") else ""
    words = {"not_run": "not run"}.get(event.kind, event.kind)
    return f"[{event.elapsed * 1000:8.1f} ms] {_EVENT_MARK[event.kind]} {event.task} " \
           f"{words}{attempt}{detail}"


def run_text(result) -> str:
    lines = [f"{result.workflow}: {result.status} in {result.duration * 1000:.1f} ms"]
    rows = [["TASK", "STATUS", "ATTEMPTS", "TIME"]]
    for task_id, outcome in result.tasks.items():
        took = f"{outcome.duration * 1000:.1f} ms" if outcome.duration is not None else "-"
        rows.append([task_id, outcome.status.replace("_", " "), str(outcome.attempts or "-"),
                     took])
    lines += _table(rows)
    return "\n".join(lines)
