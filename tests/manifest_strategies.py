"""Hypothesis strategies for manifests: valid ones (in the canonical form the builder writes)
and mutations of them (wrong JSON types, missing and unknown keys, NaN, huge integers, lone
surrogates), as raw bytes."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from cloacina_build.format import manifest as mf

HEX = "0123456789abcdef"
hex64 = st.text(HEX, min_size=64, max_size=64)
ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
function_ref = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,8}:[A-Za-z_][A-Za-z0-9_]{0,8}",
                             fullmatch=True)
text = st.text(max_size=12)
name_text = st.text(min_size=1, max_size=12)
location = st.fixed_dictionaries({"file": st.text(max_size=20),
                                  "line": st.integers(0, 10**6)})
json_scalar = (st.none() | st.booleans() | st.integers(-(10**20), 10**20)
               | st.floats(allow_nan=False, allow_infinity=False) | text)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(text, inner, max_size=3), max_leaves=8)
OPERATORS = ["Equals", "NotEquals", "GreaterThan", "LessThan", "Contains", "NotContains",
             "Exists", "NotExists"]


@st.composite
def retry(draw) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["attempts"] = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        out["backoff"] = draw(st.sampled_from(["fixed", "linear", "exponential"]))
    if draw(st.booleans()):
        out["delay_ms"] = draw(st.integers(0, 10**6))
        if draw(st.booleans()):
            out["max_delay_ms"] = out["delay_ms"] + draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        out["condition"] = draw(st.sampled_from(["never", "transient", "all"]))
    if draw(st.booleans()):
        out["jitter"] = draw(st.booleans())
    return out


always = st.builds(lambda: {"type": "Always"})  # a fresh dict each time: mutations edit it
condition_leaf = st.one_of(
    always,
    st.fixed_dictionaries({"type": st.just("ContextValue"), "key": name_text,
                           "operator": st.sampled_from(OPERATORS), "value": json_value}),
    st.fixed_dictionaries({"type": st.sampled_from(["TaskSuccess", "TaskFailed",
                                                    "TaskSkipped"]),
                           "task_name": ident}))
rule_tree = st.recursive(condition_leaf, lambda inner: st.fixed_dictionaries({
    "type": st.sampled_from(["All", "Any", "None"]),
    "conditions": st.lists(inner, max_size=3)}), max_leaves=6)
top_rule = st.none() | always | st.fixed_dictionaries({
    "type": st.sampled_from(["All", "Any", "None"]),
    "conditions": st.lists(rule_tree, max_size=3)})

task = st.fixed_dictionaries({
    "id": ident, "function": function_ref,
    "dependencies": st.lists(ident, unique=True, max_size=3),
    "retry": retry(), "trigger_rules": top_rule, "is_async": st.booleans(),
    "doc": st.none() | text, "source": location, "fingerprint": hex64})

cron = st.sampled_from(["0 * * * *", "*/5 * * * *", "0 0 1 1 * 2030", "0 0 * * * * *"])
interval = st.from_regex(r"[1-9][0-9]{0,3}(ms|s|m|h|d)", fullmatch=True)
trigger_options = st.fixed_dictionaries({}, optional={"allow_concurrent": st.booleans(),
                                                      "timezone": name_text})


@st.composite
def trigger(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["cron", "poll"]))
    return {"name": draw(name_text), "function": draw(function_ref), "on": draw(name_text),
            "kind": kind, "schedule": draw(cron if kind == "cron" else interval),
            "options": draw(trigger_options), "source": draw(location)}


DEFAULTS = {"str": text, "int": st.integers(-(10**20), 10**20),
            "float": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-99, 99),
            "bool": st.booleans(), "list": st.lists(json_value, max_size=3),
            "dict": st.dictionaries(text, json_value, max_size=3)}


@st.composite
def param(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(DEFAULTS)))
    out = {"name": draw(name_text), "type": kind, "required": draw(st.booleans()),
           "source": draw(location)}
    if not out["required"]:
        out["default"] = draw(DEFAULTS[kind])
    return out


native = st.fixed_dictionaries({
    "target": st.text(max_size=30), "os": text, "arch": text,
    "elf_class": st.sampled_from([32, 64]), "machine": text,
    "endianness": st.sampled_from(["little", "big"]),
    "glibc_floor": st.none() | st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}",
                                             fullmatch=True),
    "needed": st.lists(text, max_size=3), "exported_symbols": st.lists(text, max_size=3)})


@st.composite
def manifests(draw) -> dict[str, Any]:
    """A valid manifest, as the dict the builder would serialise."""
    kind = draw(st.sampled_from(["wheel", "native"]))
    filename = draw(st.text(min_size=1, max_size=20).filter(lambda t: "/" not in t))
    out: dict[str, Any] = {
        "format": "cloacina-package", "format_version": 1,
        "package": {
            "name": draw(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?",
                                       fullmatch=True)),
            "version": draw(name_text),
            "language": "rust" if kind == "native" else draw(st.sampled_from(["python",
                                                                              "rust"])),
            "description": draw(st.none() | text), "author": draw(st.none() | text),
            "requires_python": draw(st.none() | text)},
        "workflow": {
            "name": draw(text), "entry_module": draw(text), "fingerprint": draw(hex64),
            "fingerprint_algorithm": draw(st.sampled_from(["cloacina-ast-v1",
                                                           "cloacina-rust-tokens-v1"])),
            "tasks": draw(st.lists(task, max_size=4)),
            "triggers": draw(st.lists(trigger(), max_size=2)),
            "params": draw(st.lists(param(), max_size=2)),
            "secrets": draw(st.lists(name_text, max_size=2))},
        "payload": {"kind": kind, "path": "payload/" + filename, "filename": filename,
                    "size": draw(st.integers(0, 1 << 40)), "sha256": draw(hex64),
                    "tags": draw(st.lists(st.text(max_size=10), min_size=1, max_size=3))},
        "members": draw(st.lists(st.fixed_dictionaries({
            "path": name_text, "size": st.integers(0, 1 << 40), "sha256": hex64}),
            min_size=2, max_size=4, unique_by=lambda e: e["path"])),
        "build": {"tool": "cloacina-build", "tool_version": draw(text),
                  "python": draw(text), "backend": draw(text),
                  "source_revision": draw(st.none() | st.text(HEX, min_size=40,
                                                              max_size=64)),
                  "source_dirty": draw(st.none() | st.booleans())},
    }
    if draw(st.booleans()):
        out["build"]["source_date_epoch"] = draw(st.integers(0, 1 << 40))
    if kind == "native":
        out["native"] = draw(native)
    return out


def dumps(manifest: dict[str, Any]) -> bytes:
    return mf.dumps(manifest)


# ------------------------------------------------------------------ mutations

WRONG_VALUES = [None, True, False, 0, -1, 1.5, 1.0, 2**70, "", "x", "FIXED", "==", "a\n",
                [], [1], ["x", "x"], {}, {"k": 1}, {"type": "Always"}]
RAW = {"NaN": "NaN", "Infinity": "-Infinity", "huge": "1" + "0" * 60,
       "surrogate": '"\\ud800"', "pair": '"\\ud83d\\ude00"', "float-int": "1e2"}
SENTINEL = "\u0000@@raw:{}@@"


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, prefix + (i,))
    return out


def _set(doc: Any, path: tuple, make) -> Any:
    if not path:
        return make(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = make(parent[path[-1]])
    return doc


@st.composite
def mutated(draw) -> bytes:
    """A valid manifest with one to three defects, as bytes."""
    doc = copy.deepcopy(draw(manifests()))  # never edit what another example may share
    raw: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        action = draw(st.sampled_from(["wrong", "delete", "unknown", "raw", "duplicate"]))
        if action == "wrong":
            wrong = draw(st.sampled_from(WRONG_VALUES))
            doc = _set(doc, path, lambda _old, w=wrong: json.loads(json.dumps(w)))
        elif action == "delete" and path:
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        elif action == "unknown":
            key = draw(st.sampled_from(["retries", "extra", "Name", ""]))
            doc = _set(doc, path, lambda old, k=key: {**old, k: 1}
                       if isinstance(old, dict) else old)
        elif action == "duplicate":
            doc = _set(doc, path, lambda old: old + old[:1] if isinstance(old, list) else old)
        elif action == "raw":
            kind = draw(st.sampled_from(sorted(RAW)))
            raw.append(kind)
            doc = _set(doc, path, lambda _old, k=kind: SENTINEL.format(k))
    data = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=True)
    for kind in raw:
        data = data.replace(json.dumps(SENTINEL.format(kind)), RAW[kind])
    return data.encode("utf-8")
