"""Read a Rust workflow crate's source without compiling it: discovery of
``#[workflow(...)]`` modules and their ``#[task(...)]`` functions as the engine's Rust
authors write them, into the typed model.

Every decision about an attribute's values is the rule book's
(:mod:`cloacina_build.rulebook`), the same as for Python decorators: the same values are
accepted or refused with the same finding codes.  Fingerprints come from a normalised
token form of each task function (its ``#[task]`` attribute, signature and body):
comments, doc comments, ``#[doc]`` attributes and formatting do not count; any change to a
token does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import rulebook as rb
from ..findings import Finding, error, warning
from ..gcpause import gc_paused
from ..model import SourceLocation, Task
from .rust_lexer import (
    ALGORITHM,
    LexError,
    Token,
    fingerprint_tokens,
    match_close,
    tokenize,
)

__all__ = ["ALGORITHM", "LexError", "RustDiscovery", "Token", "discover_crate",
           "fingerprint_tokens", "parse_args", "scan_sources", "tokenize"]

WORKFLOW_ATTRS = ("workflow", "packaged_workflow")
_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+")
_DIGITS = {16: re.compile(r"[0-9A-Fa-f]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f_]{1,8}\}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


@dataclass
class RustDiscovery:
    workflow: str | None = None
    module: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _escape(m: re.Match[str]) -> str:
    code = m.group(1)
    if code.startswith("x") and len(code) == 3:
        return chr(int(code[1:], 16))
    if code.startswith("u{"):
        value = int(code[2:-1].replace("_", ""), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError(m.group(0))
        return chr(value)
    return _SIMPLE_ESCAPES.get(code, code)


def _unquote(text: str) -> str:
    if text.startswith("r"):
        return text[text.index('"') + 1: text.rindex('"')]
    return _ESCAPE.sub(_escape, text[1:-1])


def _number(text: str) -> int | float | None:
    text = re.sub(r"(u8|u16|u32|u64|u128|usize|i8|i16|i32|i64|i128|isize|f32|f64)$", "",
                  text).replace("_", "")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if text.startswith(prefix):
            return int(text[2:], base) if _DIGITS[base].fullmatch(text[2:]) else None
    if _INT.fullmatch(text):
        return int(text)
    return float(text) if _FLOAT.fullmatch(text) else None


def _scalar(tokens: list[Token]) -> Any:
    """A string, number or bool (a number may have a leading minus)."""
    negative = len(tokens) == 2 and tokens[0].kind == "punct" and tokens[0].text == "-"
    t = tokens[-1]
    if len(tokens) == (2 if negative else 1):
        if t.kind == "literal" and t.text[:1] in ('"', "r") and not negative:
            return _unquote(t.text)
        number = _number(t.text) if t.kind == "literal" else None
        if number is not None:
            return -number if negative else number
        if t.kind == "ident" and t.text in ("true", "false") and not negative:
            return t.text == "true"
    raise ValueError(" ".join(x.text for x in tokens))


def _value(tokens: list[Token]) -> Any:
    """A literal attribute value: string, number, bool, or a [list] of those."""
    if tokens and tokens[0].text == "[" and tokens[-1].text == "]":
        items: list[Any] = []
        current: list[Token] = []
        depth = 0
        for t in tokens[1:-1]:
            if t.kind == "punct" and t.text in "([{":
                depth += 1
            elif t.kind == "punct" and t.text in ")]}":
                depth -= 1
            if t.text == "," and t.kind == "punct" and depth == 0:
                items.append(_value(current))
                current = []
            else:
                current.append(t)
        if current:
            items.append(_value(current))
        return items
    if not tokens:
        raise ValueError("nothing")
    return _scalar(tokens)


def parse_args(tokens: list[Token]) -> list[tuple[str, list[Token], int]]:
    """``key = value, ...`` inside an attribute's parentheses."""
    out, i = [], 0
    while i < len(tokens):
        key = tokens[i]
        if key.kind != "ident" or i + 1 >= len(tokens) or tokens[i + 1].text != "=":
            raise LexError(f"expected 'name = value' in the attribute, found '{key.text}'",
                           key.line)
        j, depth = i + 2, 0
        while j < len(tokens):
            t = tokens[j]
            if t.kind == "punct" and t.text in "([{":
                depth += 1
            elif t.kind == "punct" and t.text in ")]}":
                depth -= 1
            elif t.kind == "punct" and t.text == "," and depth == 0:
                break
            j += 1
        out.append((key.text, tokens[i + 2:j], key.line))
        i = j + 1
    return out


def discover_crate(src_dir: Path, shown_from: Path) -> RustDiscovery:
    """Every #[workflow] module under ``src_dir`` (exactly one is expected)."""
    with gc_paused():  # every token stays alive until the end (see gcpause)
        return _discover_crate(src_dir, shown_from)


def _discover_crate(src_dir: Path, shown_from: Path) -> RustDiscovery:
    files: list[tuple[str, str]] = []
    unreadable: list[Finding] = []
    for path in sorted(src_dir.rglob("*.rs")):
        rel = path.relative_to(shown_from).as_posix()
        try:
            files.append((rel, path.read_text("utf-8")))
        except UnicodeDecodeError:
            unreadable.append(error("source-syntax", "not UTF-8 text", rel))
    return scan_sources(files, src_dir.relative_to(shown_from).as_posix(), unreadable)


def scan_sources(files: list[tuple[str, str]], where: str = "src",
                 findings: list[Finding] | None = None) -> RustDiscovery:
    """Discovery over ``(path, text)`` pairs, as read from a crate's ``src/``."""
    result = RustDiscovery(findings=list(findings or []))
    found_workflows: list[tuple[str, str]] = []
    for rel, text in files:
        try:
            found_workflows += _Scanner(tokenize(text), rel, result).workflows()
        except LexError as exc:
            result.findings.append(error("source-syntax", str(exc), f"{rel}:{exc.line}"))
    if not found_workflows and not result.findings:
        result.findings.append(error("workflow-missing", "no #[workflow(name = \"...\")] module "
                                     f"found under {where}/", where))
    elif len(found_workflows) > 1:
        result.findings.append(error("workflow-multiple", "more than one #[workflow] module: "
                                     + ", ".join(w for w, _ in found_workflows)))
    elif found_workflows:
        result.workflow, result.module = found_workflows[0]
    return result


class _Scanner:
    """The #[workflow] modules of one file and the #[task] functions inside them."""

    def __init__(self, tokens: list[Token], rel: str, result: RustDiscovery) -> None:
        self.tokens, self.rel, self.result = tokens, rel, result

    def attribute_at(self, i: int, names: tuple[str, ...]) -> bool:
        tokens = self.tokens
        return (tokens[i].text == "#" and i + 2 < len(tokens) and tokens[i + 1].text == "["
                and tokens[i + 2].kind == "ident" and tokens[i + 2].text in names)

    def attr_args(self, open_bracket: int) -> list[Token]:
        if self.tokens[open_bracket + 2].text != "(":
            return []
        close = match_close(self.tokens, open_bracket + 2)
        return self.tokens[open_bracket + 3: close]

    def workflows(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(self.tokens):
            if self.attribute_at(i, WORKFLOW_ATTRS):
                found, i = self._workflow(i)
                out += found
                continue
            i += 1
        return out

    def _workflow(self, i: int) -> tuple[list[tuple[str, str]], int]:
        tokens, rel = self.tokens, self.rel
        close = match_close(tokens, i + 1)
        args = self.attr_args(i + 1)
        j = close + 1
        while j < len(tokens) and tokens[j].text in ("pub", "(", "crate", ")"):
            j += 1
        if j + 2 >= len(tokens) or tokens[j].text != "mod" or tokens[j + 2].text != "{":
            self.result.findings.append(error("workflow-placement", "#[workflow] must be on "
                                              "an inline module: pub mod name { ... }",
                                              f"{rel}:{tokens[i].line}"))
            return [], close + 1
        module = tokens[j + 1].text
        values: dict[str, Any] = {}
        for key, value_tokens, line in parse_args(args):
            try:
                values[key] = _value(value_tokens)
            except ValueError as exc:
                self.result.findings.append(error("workflow-argument", f"'{key}' must be a "
                                                  f"literal, not '{exc}'", f"{rel}:{line}"))
        name = values.get("name")
        if not isinstance(name, str):
            self.result.findings.append(error("workflow-argument", "#[workflow] needs "
                                              "name = \"...\"", f"{rel}:{tokens[i].line}"))
            name = module
        self.result.attributes = values
        body_close = match_close(tokens, j + 2)
        self._tasks(j + 3, body_close, module)
        return [(name, module)], body_close + 1

    def _tasks(self, start: int, end: int, module: str) -> None:
        tokens, i = self.tokens, start
        while i < end:
            if not self.attribute_at(i, ("task",)):
                i += 1
                continue
            attr_close = match_close(tokens, i + 1)
            args = self.attr_args(i + 1)
            j = attr_close + 1
            while j < end and tokens[j].text == "#":  # further attributes
                j = match_close(tokens, j + 1) + 1
            header = j
            while j < end and tokens[j].text != "fn":
                j += 1
            if j + 1 >= end:
                self.result.findings.append(error("task-placement", "#[task] must be on a "
                                                  "function", f"{self.rel}:{tokens[i].line}"))
                return
            k = j
            while k < end and tokens[k].text != "{":
                k += 1
            body_close = match_close(tokens, k)
            attribute = _TaskAttribute(args, tokens[j + 1].text, module, self.rel,
                                       tokens[i].line)
            task = attribute.read(self.result.findings,
                                  any(t.text == "async" for t in tokens[header:j]),
                                  functools.partial(fingerprint_tokens,
                                                    tokens[i:body_close + 1]))
            if task is not None:
                self.result.tasks.append(task)
            i = body_close + 1


class _TaskAttribute:
    """One ``#[task(...)]``: its arguments, judged by the rule book."""

    def __init__(self, args: list[Token], fn_name: str, module: str, rel: str,
                 line: int) -> None:
        self.args, self.fn_name, self.module, self.rel, self.line = \
            args, fn_name, module, rel, line
        self.lines: dict[str, int] = {}

    def read(self, findings: list[Finding], is_async: bool,
             fingerprint: Callable[[], str]) -> Task | None:
        try:
            values = self._values(findings)
            if values is None:
                return None
            return Task(
                id=rb.task_id(values.get("id", self.fn_name)),
                function=rb.function_ref(f"{self.module}:{self.fn_name}"),
                dependencies=rb.dependencies(values.get("dependencies", [])),
                retry=rb.retry({k: v for k, v in values.items() if k in rb.RETRY_ARGS}),
                trigger_rules=None, is_async=is_async, doc=None,
                source=SourceLocation(self.rel, self.line), fingerprint=fingerprint())
        except rb.RuleViolation as v:
            line = self.lines.get(v.argument or "", self.line)
            findings.append(error(v.code, v.message, f"{self.rel}:{line}"))
            return None

    def _values(self, findings: list[Finding]) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        rules_seen = False
        for key, value_tokens, key_line in parse_args(self.args):
            self.lines[key] = key_line
            rb.task_argument(key, "#[task]")
            if key == "trigger_rules":
                rules_seen = True
                continue
            try:
                values[key] = _value(value_tokens)
            except ValueError as exc:
                findings.append(error("task-argument", f"'{key}' must be a literal, not "
                                      f"'{exc}'", f"{self.rel}:{key_line}"))
                return None
        if rules_seen:
            findings.append(warning("task-trigger-rules", "trigger_rules on Rust tasks are "
                                    "kept in the library but not recorded in the manifest",
                                    f"{self.rel}:{self.line}"))
        return values
