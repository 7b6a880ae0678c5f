"""Read a Rust workflow crate's source without compiling it: a small lexer, and discovery
of ``#[workflow(...)]`` modules and their ``#[task(...)]`` functions as the engine's Rust
authors write them.

Fingerprints come from a normalised token form of each task function (its ``#[task]``
attribute, signature and body): comments, doc comments, ``#[doc]`` attributes and
formatting do not count; any change to a token does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import did_you_mean
from ..findings import Finding, error, warning

ALGORITHM = "cloacina-rust-tokens-v1"
TASK_ARGS = ("id", "dependencies", "retry_attempts", "retry_backoff", "retry_delay_ms",
             "retry_max_delay_ms", "retry_condition", "retry_jitter", "trigger_rules")
WORKFLOW_ATTRS = ("workflow", "packaged_workflow")
_IDENT = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")
_PUNCT3 = ("<<=", ">>=", "...", "..=")
_PUNCT2 = ("::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=",
           "%=", "^=", "&=", "|=", "<<", ">>", "..")


class LexError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Token:
    kind: str   # ident | literal | punct | lifetime
    text: str
    line: int


def tokenize(src: str) -> list[Token]:
    out: list[Token] = []
    i, line, n = 0, 1, len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while depth and j < n:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise LexError("unterminated block comment", line)
            line += src.count("\n", i, j)
            i = j
        elif (m := re.match(r'(b?r)(#*)"', src[i:])):
            hashes = m.group(2)
            start = i + len(m.group(0))
            end = src.find('"' + hashes, start)
            if end < 0:
                raise LexError("unterminated raw string", line)
            j = end + 1 + len(hashes)
            out.append(Token("literal", src[i:j], line))
            line += src.count("\n", i, j)
            i = j
        elif c == '"' or src.startswith('b"', i) or src.startswith('c"', i):
            j = i + (1 if c == '"' else 2)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise LexError("unterminated string", line)
            out.append(Token("literal", src[i:j + 1], line))
            line += src.count("\n", i, j + 1)
            i = j + 1
        elif c == "'" or src.startswith("b'", i):
            m = re.match(r"b?'(\\(x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f]{1,6}\}|.)|[^\\'])'",
                         src[i:])
            if m:
                out.append(Token("literal", m.group(0), line))
                i += len(m.group(0))
            else:
                m = re.match(r"'[A-Za-z_][A-Za-z0-9_]*", src[i:])
                if not m:
                    raise LexError("stray quote", line)
                out.append(Token("lifetime", m.group(0), line))
                i += len(m.group(0))
        elif (m := _IDENT.match(src, i)):
            out.append(Token("ident", m.group(0), line))
            i = m.end()
        elif c.isdigit():
            m = _NUMBER.match(src, i)
            text = m.group(0)
            if ".." in text:  # a range like 0..10
                text = text[: text.index("..")]
            out.append(Token("literal", text, line))
            i += len(text)
        else:
            for size, table in ((3, _PUNCT3), (2, _PUNCT2)):
                if src[i:i + size] in table:
                    out.append(Token("punct", src[i:i + size], line))
                    i += size
                    break
            else:
                out.append(Token("punct", c, line))
                i += 1
    return out


def _match_close(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at ``start``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opener = tokens[start].text
    depth = 0
    for j in range(start, len(tokens)):
        t = tokens[j].text if tokens[j].kind == "punct" else None
        if t == opener:
            depth += 1
        elif t == pairs[opener]:
            depth -= 1
            if depth == 0:
                return j
    raise LexError(f"unclosed '{opener}'", tokens[start].line)


def _unquote(text: str) -> str:
    if text.startswith("r"):
        return text[text.index('"') + 1: text.rindex('"')]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(
        m.group(1), m.group(1)), body)


def _value(tokens: list[Token]):
    """A literal attribute value: string, integer, bool, or a [list] of those."""
    if len(tokens) == 1:
        t = tokens[0]
        if t.kind == "literal" and t.text[:1] in ('"', "r"):
            return _unquote(t.text)
        if t.kind == "literal" and re.fullmatch(r"[0-9][0-9_]*(u32|u64|usize|i32|i64)?",
                                               t.text):
            return int(re.sub(r"[^0-9]", "", re.sub(r"(u32|u64|usize|i32|i64)$", "",
                                                    t.text)))
        if t.kind == "ident" and t.text in ("true", "false"):
            return t.text == "true"
    if tokens and tokens[0].text == "[" and tokens[-1].text == "]":
        items, current = [], []
        for t in tokens[1:-1]:
            if t.text == "," and t.kind == "punct":
                if current:
                    items.append(_value(current))
                current = []
            else:
                current.append(t)
        if current:
            items.append(_value(current))
        return items
    raise ValueError(" ".join(t.text for t in tokens))


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


def fingerprint_tokens(tokens: list[Token]) -> str:
    texts = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "#" and i + 1 < len(tokens) and tokens[i + 1].text == "[" and \
                i + 2 < len(tokens) and tokens[i + 2].text == "doc":
            i = _match_close(tokens, i + 1) + 1
            continue
        texts.append(t.text)
        i += 1
    data = f"{ALGORITHM}\0" + "\x1f".join(texts)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass
class RustDiscovery:
    workflow: str | None = None
    module: str | None = None
    attributes: dict | None = None
    tasks: list[dict] | None = None
    findings: list[Finding] | None = None


def discover_crate(src_dir: Path, shown_from: Path) -> RustDiscovery:
    """Every #[workflow] module under ``src_dir`` (exactly one is expected)."""
    result = RustDiscovery(tasks=[], findings=[], attributes={})
    found_workflows = []
    for path in sorted(src_dir.rglob("*.rs")):
        rel = path.relative_to(shown_from).as_posix()
        try:
            tokens = tokenize(path.read_text("utf-8"))
            found_workflows += _scan(tokens, rel, result)
        except LexError as exc:
            result.findings.append(error("source-syntax", str(exc), f"{rel}:{exc.line}"))
        except UnicodeDecodeError:
            result.findings.append(error("source-syntax", "not UTF-8 text", rel))
    if not found_workflows and not result.findings:
        result.findings.append(error("workflow-missing", "no #[workflow(name = \"...\")] module "
                                     "found under src/", src_dir.relative_to(shown_from)
                                     .as_posix()))
    elif len(found_workflows) > 1:
        result.findings.append(error("workflow-multiple", "more than one #[workflow] module: "
                                     + ", ".join(w for w, _ in found_workflows)))
    elif found_workflows:
        result.workflow, result.module = found_workflows[0]
    return result


def _scan(tokens: list[Token], rel: str, result: RustDiscovery) -> list[tuple[str, str]]:
    workflows = []
    i = 0
    while i < len(tokens):
        if _attribute_at(tokens, i, WORKFLOW_ATTRS):
            close = _match_close(tokens, i + 1)
            args = _attr_args(tokens, i + 1, close)
            j = close + 1
            while j < len(tokens) and tokens[j].text in ("pub", "(", "crate", ")"):
                j += 1
            if j + 2 >= len(tokens) or tokens[j].text != "mod" or tokens[j + 2].text != "{":
                result.findings.append(error("workflow-placement", "#[workflow] must be on "
                                             "an inline module: pub mod name { ... }",
                                             f"{rel}:{tokens[i].line}"))
                i = close + 1
                continue
            module = tokens[j + 1].text
            values = {}
            for key, value_tokens, line in parse_args(args):
                try:
                    values[key] = _value(value_tokens)
                except ValueError as exc:
                    result.findings.append(error("workflow-argument", f"'{key}' must be a "
                                                 f"literal, not '{exc}'", f"{rel}:{line}"))
            name = values.get("name")
            if not isinstance(name, str):
                result.findings.append(error("workflow-argument", "#[workflow] needs "
                                             "name = \"...\"", f"{rel}:{tokens[i].line}"))
                name = module
            result.attributes = values
            body_close = _match_close(tokens, j + 2)
            _scan_tasks(tokens, j + 3, body_close, rel, module, result)
            workflows.append((name, module))
            i = body_close + 1
            continue
        i += 1
    return workflows


def _attribute_at(tokens, i, names) -> bool:
    return (tokens[i].text == "#" and i + 2 < len(tokens) and tokens[i + 1].text == "["
            and tokens[i + 2].kind == "ident" and tokens[i + 2].text in names)


def _attr_args(tokens, open_bracket: int, close_bracket: int) -> list[Token]:
    if tokens[open_bracket + 2].text != "(":
        return []
    close = _match_close(tokens, open_bracket + 2)
    return tokens[open_bracket + 3: close]


def _scan_tasks(tokens, start, end, rel, module, result) -> None:
    i = start
    while i < end:
        if _attribute_at(tokens, i, ("task",)):
            attr_close = _match_close(tokens, i + 1)
            args = _attr_args(tokens, i + 1, attr_close)
            j = attr_close + 1
            while j < end and tokens[j].text == "#":  # further attributes
                j = _match_close(tokens, j + 1) + 1
            header = j
            while j < end and tokens[j].text != "fn":
                j += 1
            if j + 1 >= end:
                result.findings.append(error("task-placement", "#[task] must be on a function",
                                             f"{rel}:{tokens[i].line}"))
                return
            fn_name = tokens[j + 1].text
            k = j
            while k < end and tokens[k].text != "{":
                k += 1
            body_close = _match_close(tokens, k)
            task = _task(args, fn_name, module, rel, tokens[i].line, result)
            if task is not None:
                task["is_async"] = "async" in [t.text for t in tokens[header:j]]
                task["fingerprint"] = fingerprint_tokens(tokens[i:body_close + 1])
                result.tasks.append(task)
            i = body_close + 1
            continue
        i += 1


def _task(args, fn_name, module, rel, line, result) -> dict | None:
    where = f"{rel}:{line}"
    values = {}
    rules_seen = False
    for key, value_tokens, key_line in parse_args(args):
        if key not in TASK_ARGS:
            result.findings.append(error("task-argument", f"#[task] has no argument '{key}'"
                                         f"{did_you_mean(key, TASK_ARGS)}", f"{rel}:{key_line}"))
            return None
        if key == "trigger_rules":
            rules_seen = True
            continue
        try:
            values[key] = _value(value_tokens)
        except ValueError as exc:
            result.findings.append(error("task-argument", f"'{key}' must be a literal, not "
                                         f"'{exc}'", f"{rel}:{key_line}"))
            return None
    if rules_seen:
        result.findings.append(warning("task-trigger-rules", "trigger_rules on Rust tasks "
                                       "are kept in the library but not recorded in the "
                                       "manifest", where))
    task_id = values.get("id", fn_name)
    deps = values.get("dependencies", [])
    if not isinstance(task_id, str) or not isinstance(deps, list) or \
            not all(isinstance(d, str) for d in deps):
        result.findings.append(error("task-argument", "id must be a string and dependencies "
                                     "a list of strings", where))
        return None
    retry = {}
    for arg, key in (("retry_attempts", "attempts"), ("retry_backoff", "backoff"),
                     ("retry_delay_ms", "delay_ms"), ("retry_max_delay_ms", "max_delay_ms"),
                     ("retry_condition", "condition"), ("retry_jitter", "jitter")):
        if arg in values:
            retry[key] = values[arg].lower() if isinstance(values[arg], str) else values[arg]
    return {"id": task_id, "function": f"{module}:{fn_name}", "dependencies": list(deps),
            "retry": retry, "trigger_rules": None, "doc": None,
            "source": {"file": rel, "line": line}}
