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
from json.encoder import encode_basestring_ascii as _json_string
from collections.abc import Mapping, Sequence
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


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    """A node type's fields in sorted order, skipped ones left out (computed once)."""
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(n for n in sorted(kind._fields)  # type: ignore[attr-defined]
                                       if n not in _SKIP_FIELDS)
    return fields


def _emit(node: object, out: list[str]) -> None:
    if isinstance(node, ast.Constant):
        out.append(f"Constant({_constant(node.value)})")
    elif isinstance(node, ast.AST):
        out.append(type(node).__name__ + "(")
        sep = ""
        for name in _fields(type(node)):
            value = getattr(node, name, None)
            if name == "body" and value and isinstance(node, _DOC_OWNERS) \
                    and _is_docstring(value[0]):
                value = value[1:]
            if value is None or (isinstance(value, list) and not value):
                continue
            out.append(sep + name + "=")
            sep = ","
            _emit(value, out)
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for i, item in enumerate(node):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    elif isinstance(node, str):
        out.append(_json_string(node))  # exactly json.dumps(node)
    else:
        out.append(_constant(node))


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
    entries = []
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
