"""The shipped JSON Schemas (``schemas/``), and a checker for the subset of JSON Schema the
package schema uses, without the ``jsonschema`` package.

Importing ``jsonschema`` costs about a quarter of a second; reading a project (``package``,
``validate PROJECT``, ``cloacina_build.testing``) only needs ``package.schema.json``, whose
keywords are few: ``type`` (object, string), ``required``, ``properties``,
``additionalProperties: false``, ``$ref`` to ``$defs``, ``const``, ``enum``, ``minLength``,
``maxLength`` and ``pattern``.  :func:`subset_findings` checks exactly those, with the same
messages ``jsonschema`` gives (a test compares the two), and refuses a schema that uses
anything else.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from .errors import did_you_mean
from .findings import Finding, error

_HERE = Path(__file__).resolve().parent
_KEYWORDS = frozenset({"$schema", "$id", "title", "description", "type", "required",
                       "properties", "additionalProperties", "$ref", "$defs", "const",
                       "enum", "minLength", "maxLength", "pattern"})
_TYPES = {"object": dict, "string": str}


class UnsupportedSchema(Exception):
    """The schema uses a keyword outside the subset (a programming error)."""


def data_dir(name: str) -> Path:
    """``schemas`` or ``templates``: inside the wheel, or beside the package in a checkout."""
    for candidate in (_HERE / "_data" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cloacina-build is installed without its {name}/ directory")


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((data_dir("schemas") / f"{name}.schema.json").read_text("utf-8"))


def subset_findings(instance: Any, name: str, *, code: str, location: str) -> list[Finding]:
    """Every way ``instance`` breaks schema ``name``, as findings sorted by message (the
    shape of :func:`cloacina_build.format.schemas.schema_findings`)."""
    schema = load_schema(name)
    out: list[Finding] = []
    _check(instance, schema, schema, [], lambda m: out.append(error(code, m, location)))
    return sorted(out, key=lambda f: f.message)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    unknown = set(node) - _KEYWORDS
    if unknown:
        raise UnsupportedSchema(f"keyword {sorted(unknown)[0]!r} is not supported")
    ref = node.get("$ref")
    if ref is None:
        return node
    if not ref.startswith("#/$defs/"):
        raise UnsupportedSchema(f"$ref {ref!r} is not supported")
    return _resolve(root["$defs"][ref[len("#/$defs/"):]], root)


def _check(value: Any, node: dict[str, Any], root: dict[str, Any], path: list[str],
           report: Any) -> None:
    node = _resolve(node, root)
    field = "'" + ".".join(path) + "'" if path else "the document"

    def fail(message: str) -> None:
        report(f"{field}: {message if len(message) <= 200 else message[:197] + '...'}")

    kind = node.get("type")
    if kind is not None and not isinstance(value, _TYPES[kind]):
        fail(f"{value!r} is not of type {kind!r}")
    if "const" in node and not _equal(value, node["const"]):
        fail(f"{node['const']!r} was expected")
    if "enum" in node and not any(_equal(value, e) for e in node["enum"]):
        fail(f"{value!r} is not one of {node['enum']!r}")
    if isinstance(value, str):
        _check_string(value, node, fail)
    if isinstance(value, dict):
        _check_object(value, node, root, path, report, fail)


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _check_string(value: str, node: dict[str, Any], fail: Any) -> None:
    if "maxLength" in node and len(value) > node["maxLength"]:
        fail(f"{value!r} is too long")
    if "minLength" in node and len(value) < node["minLength"]:
        fail(f"{value!r} should be non-empty" if node["minLength"] == 1
             else f"{value!r} is too short")
    if "pattern" in node and not re.search(node["pattern"], value):
        fail(f"{value!r} does not match {node['pattern']!r}")


def _check_object(value: dict[str, Any], node: dict[str, Any], root: dict[str, Any],
                  path: list[str], report: Any, fail: Any) -> None:
    properties = node.get("properties", {})
    if node.get("additionalProperties") is False:
        table = f"[{'.'.join(path)}]" if path else "the top level"
        for key in sorted(set(value) - set(properties)):
            report(f"unknown key '{key}' in {table}{did_you_mean(key, properties)}")
    for key in node.get("required", ()):
        if key not in value:
            fail(f"{key!r} is a required property")
    for key, sub in properties.items():
        if key in value:
            _check(value[key], sub, root, [*path, key], report)
