"""Task fingerprints: sha256 over a canonical form of a function's syntax tree.

The canonical form names node types and their non-empty fields in sorted order and tags
constants with their type.  Line numbers, comments, formatting, quoting style, parentheses,
trailing commas and docstrings leave no trace in it; any change to the body, the signature
or the decorator arguments does.  Fields that newer Pythons add with empty defaults (such
as ``type_params``) are skipped because they are empty, so the value stays put across
interpreter versions.  ``ALGORITHM`` names this scheme; tests pin golden values.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

from ..model import Task

ALGORITHM = "cloacina-ast-v1"
_SKIP_FIELDS = frozenset({"type_comment", "kind"})
_DOC_OWNERS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _constant(value: object) -> str:
    if value is Ellipsis:
        return "Ellipsis"
    return f"{type(value).__name__}:{value!r}"


def canonical(node: object) -> str:
    """The canonical text of a syntax tree (or a list or scalar field inside one)."""
    parts: list[str] = []
    _emit(node, parts)
    return "".join(parts)


_PLANS: dict[type, tuple[str, tuple[str, ...], bool]] = {}


def _plan(kind: type) -> tuple[str, tuple[str, ...], bool]:
    """How a node type is written: ``Name(``, its fields in sorted order (skipped ones
    left out) and whether its body may start with a docstring (computed once a type)."""
    plan = _PLANS.get(kind)
    if plan is None:
        fields = tuple(n for n in sorted(kind._fields)  # type: ignore[attr-defined]
                       if n not in _SKIP_FIELDS)
        plan = _PLANS[kind] = (kind.__name__ + "(", fields, issubclass(kind, _DOC_OWNERS))
    return plan


def _emit(node: object, out: list[str]) -> None:
    kind = type(node)
    if kind is ast.Constant or isinstance(node, ast.Constant):
        out.append("Constant(" + _constant(node.value) + ")")  # type: ignore[attr-defined]
    elif isinstance(node, ast.AST):
        head, fields, doc_owner = _plan(kind)
        out.append(head)
        sep = ""
        for name in fields:
            value = getattr(node, name, None)
            if value is None:
                continue
            if type(value) is list:
                if doc_owner and name == "body" and value and _is_docstring(value[0]):
                    value = value[1:]
                if not value:
                    continue
                out.append(sep + name + "=")
                _emit_list(value, out)
            else:
                out.append(sep + name + "=")
                _emit(value, out)
            sep = ","
        out.append(")")
    elif isinstance(node, list):
        _emit_list(node, out)
    elif isinstance(node, str):
        out.append(_json_string(node))  # exactly json.dumps(node)
    else:
        out.append(_constant(node))


def _emit_list(items: list[object], out: list[str]) -> None:
    out.append("[")
    first = True
    for item in items:
        if first:
            first = False
        else:
            out.append(",")
        _emit(item, out)
    out.append("]")


def fingerprint_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    text = f"{ALGORITHM}\0{canonical(node)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint_source(source: str, name: str) -> str:
    """Fingerprint of the module-level function ``name`` in ``source`` (for tests, tools)."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return fingerprint_function(node)
    raise KeyError(name)


def workflow_fingerprint(workflow_name: str, tasks: Sequence[Task | Mapping[str, Any]],
                         algorithm: str = ALGORITHM) -> str:
    """sha256 over the workflow name and every task's id, fingerprint and edges.  Tasks
    are the typed model (a ``dict`` in the manifest's JSON form is accepted too)."""
    entries: list[dict[str, Any]] = []
    for t in tasks:
        if isinstance(t, Task):
            tid, fingerprint, deps = t.id, t.fingerprint, t.dependencies
        else:
            tid, fingerprint, deps = t["id"], t["fingerprint"], t["dependencies"]
        entries.append({"id": tid, "fingerprint": fingerprint, "dependencies": sorted(deps)})
    body = {"algorithm": algorithm, "workflow": workflow_name,
            "tasks": sorted(entries, key=lambda e: e["id"])}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
