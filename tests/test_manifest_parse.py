"""Manifest.parse is the manifest check: total, canonical, and never laxer than the schema.

``schemas/manifest.schema.json`` documents the manifest for other tools; validate no
longer runs it (the typed parser is the check).  These tests keep the two in agreement:
whenever jsonschema rejects a document, the parser rejects it too.  The parser may be
stricter; every way it is, is listed in ``STRICTER`` below with an example, and a test
checks that each example really is accepted by the schema and refused by the parser.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina_build.errors import PackageError
from cloacina_build.format.schemas import schema_findings
from cloacina_build.model import Manifest, Severity

from .manifest_strategies import dumps, json_value, manifests, mutated

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=list(HealthCheck))


def schema_ok(data: bytes) -> bool:
    """What jsonschema says, on what Python's (lenient) json module makes of the bytes."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False  # not JSON at all: nothing for the schema to accept
    return schema_findings(value, "manifest", code="schema-manifest", location="m") == []


def check_total(data: bytes) -> Manifest | None:
    manifest, findings = Manifest.parse(data)
    assert (manifest is None) == bool(findings)
    for f in findings:
        assert f.severity is Severity.ERROR
        assert f.code in ("manifest-syntax", "schema-manifest")
        assert "\n" not in f.message and len(f.message) < 400
        json.dumps(f.to_dict(), ensure_ascii=False).encode("utf-8")
    return manifest


@SETTINGS
@given(manifests())
def test_valid_manifests_parse_and_round_trip_byte_for_byte(doc):
    data = dumps(doc)
    assert schema_ok(data)  # the generator makes what the schema accepts
    m = check_total(data)
    assert m is not None
    assert m.to_json() == data  # canonical input: the model serialises to the same bytes
    again = check_total(m.to_json())
    assert again == m and again.to_json() == m.to_json()


@SETTINGS
@given(mutated())
def test_parse_rejects_whatever_the_schema_rejects(data):
    manifest = check_total(data)
    if manifest is not None:
        assert schema_ok(data), "the parser accepted a manifest the schema rejects"
        assert check_total(manifest.to_json()) == manifest


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parse_is_total_on_any_bytes(data):
    check_total(data)


@settings(max_examples=200, deadline=None)
@given(json_value)
def test_parse_is_total_on_any_json(value):
    check_total(json.dumps(value).encode())
    check_total(json.dumps({"format": "cloacina-package", "workflow": value}).encode())


@pytest.mark.parametrize("raw", [
    b"NaN", b'{"format": NaN}', b'{"format_version": 1' + b"0" * 5000 + b"}",
    b'"\\ud800"', b'{"\\udfff": 1}', b"[" * 100_000, b"{}" * 3, b"\xff\xfe", b"",
    b'{"format": "cloacina-package", "format_version": 1, "package": []}',
])
def test_hostile_documents_are_findings(raw):
    assert check_total(raw) is None


def test_from_json_raises_our_error_with_every_finding():
    with pytest.raises(PackageError) as info:
        Manifest.from_json(b'{"format": "cloacina-package"}')
    assert info.value.code == "schema-manifest"
    assert len(info.value.findings) >= 6  # each missing section is reported


# ------------------------------------------------------------ where the parser is stricter

BASE = {
    "format": "cloacina-package", "format_version": 1,
    "package": {"name": "p", "version": "1", "language": "python", "description": None,
                "author": None, "requires_python": None},
    "workflow": {"name": "w", "entry_module": "m", "fingerprint": "0" * 64,
                 "fingerprint_algorithm": "cloacina-ast-v1", "tasks": [], "triggers": [],
                 "params": [], "secrets": []},
    "payload": {"kind": "wheel", "path": "payload/p.whl", "filename": "p.whl", "size": 1,
                "sha256": "1" * 64, "tags": ["py3-none-any"]},
    "members": [{"path": "package.toml", "size": 1, "sha256": "2" * 64},
                {"path": "payload/p.whl", "size": 1, "sha256": "1" * 64}],
    "build": {"tool": "cloacina-build", "tool_version": "1", "python": "3", "backend": "b",
              "source_revision": None, "source_dirty": None, "source_date_epoch": 0},
}


def _base() -> dict:
    m = copy.deepcopy(BASE)
    assert check_total(dumps(m)) is not None
    return m


def _task(m: dict) -> dict:
    if not m["workflow"]["tasks"]:
        m["workflow"]["tasks"].append({
            "id": "a", "function": "m:f", "dependencies": [], "retry": {},
            "trigger_rules": None, "is_async": False, "doc": None,
            "source": {"file": "f.py", "line": 1}, "fingerprint": "0" * 64})
    return m["workflow"]["tasks"][0]


def _set(path: str, value):
    def edit(m: dict) -> None:
        *parents, last = path.split(".")
        node = m
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node[step]
        node[last] = value
    return edit


def _task_set(key: str, value):
    return lambda m: _task(m).__setitem__(key, value)


def _trigger(m: dict, **changes) -> None:
    m["workflow"]["triggers"] = [{"name": "t", "function": "m:f", "on": "w", "kind": "cron",
                                  "schedule": "0 * * * *", "options": {},
                                  "source": {"file": "f", "line": 1}, **changes}]


def _param(m: dict, **changes) -> None:
    m["workflow"]["params"] = [{"name": "p", "type": "int", "required": False,
                                "default": 1, "source": {"file": "f", "line": 1}, **changes}]


# (what the parser adds to the schema, an edit of a valid manifest showing it)
STRICTER = [
    ("integers are never floats (1.0 is not 1)", _set("format_version", 1.0)),
    ("source lines are at most 2**31", _task_set("source", {"file": "f", "line": 2**40})),
    ("build epochs are at most 2**62", _set("build.source_date_epoch", 2**63)),
    ("retry max delay is not below the delay",
     _task_set("retry", {"delay_ms": 10, "max_delay_ms": 5})),
    ("trigger rules are in canonical form (a bare condition is wrapped in All)",
     _task_set("trigger_rules", {"type": "TaskSuccess", "task_name": "a"})),
    ("trigger-rule fields are those of the node's type",
     _task_set("trigger_rules", {"type": "Always", "key": "k"})),
    ("context-value keys are non-empty",
     _task_set("trigger_rules", {"type": "All", "conditions": [
         {"type": "ContextValue", "key": "", "operator": "Equals", "value": 1}]})),
    ("trigger-rule task names are task ids",
     _task_set("trigger_rules", {"type": "All", "conditions": [
         {"type": "TaskFailed", "task_name": "not an id"}]})),
    ("dependencies are task ids", _task_set("dependencies", ["not an id"])),
    ("a trigger's function is 'module:name'", lambda m: _trigger(m, function="nope")),
    ("a trigger's schedule is a cron expression or an interval",
     lambda m: _trigger(m, schedule="every day")),
    ("trigger options are the decorator's arguments",
     lambda m: _trigger(m, options={"retries": 3})),
    ("trigger names are non-empty", lambda m: _trigger(m, name="")),
    ("a param default has the param's type", lambda m: _param(m, default="one")),
    ("a param is required exactly when it has no default",
     lambda m: _param(m, required=True)),
    ("param names are non-empty", lambda m: _param(m, name="")),
    ("payload file names are non-empty", _set("payload.filename", "")),
    ("a member is listed once", lambda m: m["members"].append(dict(m["members"][0]))),
    ("source revisions are lowercase hex without a newline",
     _set("build.source_revision", "a" * 40 + "\n")),
    ("glibc floors are plain dotted numbers", lambda m: m.update(
        payload={**m["payload"], "kind": "native"},
        package={**m["package"], "language": "rust"},
        native={"target": "t", "os": "linux", "arch": "x", "elf_class": 64, "machine": "m",
                "endianness": "little", "glibc_floor": "2.17\n", "needed": [],
                "exported_symbols": []})),
]


@pytest.mark.parametrize("what, edit", STRICTER, ids=[s[0] for s in STRICTER])
def test_each_stricter_rule_is_real(what, edit):
    m = _base()
    edit(m)
    data = json.dumps(m, sort_keys=True, indent=2).encode()
    assert schema_ok(data), f"the schema refuses it too, so it is not stricter: {what}"
    assert check_total(data) is None, f"the parser accepts it: {what}"


@pytest.mark.parametrize("edit", [
    _task_set("retry", {"backoff": "FIXED"}),
    _task_set("retry", {"condition": "All"}),
    _task_set("trigger_rules", {"type": "All", "conditions": [
        {"type": "ContextValue", "key": "k", "operator": "==", "value": 1}]}),
], ids=["backoff", "condition", "operator"])
def test_spellings_the_rule_book_forgives_are_refused_in_a_manifest(edit):
    """Discovery accepts ``retry_backoff="FIXED"`` or ``operator="=="``; a manifest holds
    only the canonical spelling, as the schema says."""
    m = _base()
    edit(m)
    data = json.dumps(m).encode()
    assert not schema_ok(data) and check_total(data) is None


def test_the_schemas_native_rules_hold_in_the_parser():
    m = _base()
    m["payload"]["kind"] = "native"
    m.pop("native", None)
    assert not schema_ok(json.dumps(m).encode()) and check_total(json.dumps(m).encode()) is None
    m["payload"]["kind"] = "wheel"
    m["native"] = {"target": "t", "os": "linux", "arch": "x", "elf_class": 64, "machine": "m",
                   "endianness": "little", "glibc_floor": None, "needed": [],
                   "exported_symbols": []}
    assert not schema_ok(json.dumps(m).encode()) and check_total(json.dumps(m).encode()) is None


def _task_mutations():
    from .manifest_strategies import task

    edits = st.sampled_from([
        lambda t: t, lambda t: t.update(retry={"attempts": "3"}),
        lambda t: t.update(retry={"backoff": "FIXED"}), lambda t: t.update(id="a\n"),
        lambda t: t.update(dependencies=["x", "x"]), lambda t: t.update(is_async=1),
        lambda t: t.update(source={"file": "f", "line": True}), lambda t: t.pop("doc"),
        lambda t: t.update(extra=1), lambda t: t.update(trigger_rules={"type": "TaskSuccess",
                                                                       "task_name": "a"}),
        lambda t: t.update(fingerprint="A" * 64), lambda t: t.update(doc="\ud800"),
        lambda t: t.update(retry={"attempts": 1}), lambda t: t.update(retry={"attempts": True}),
        lambda t: t.update(retry={"attempts": 1.0}), lambda t: t.update(retry={"jitter": 1}),
        lambda t: t.update(retry={"jitter": True}), lambda t: t.update(dependencies=[["x"]]),
        lambda t: t.update(dependencies=[t["id"]]), lambda t: t.update(id=1),
    ])
    return st.tuples(task, edits)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # slow when loaded
@given(st.lists(_task_mutations(), min_size=1, max_size=8))
def test_the_fast_task_reader_agrees_with_the_full_one(cases):
    """The fast path takes only tasks the full reader accepts, and reads them the same,
    also with what it remembers from earlier tasks of the same manifest (one memo for the
    whole sequence, as in one manifest)."""
    from cloacina_build.fast_tasks import FastTasks
    from cloacina_build.json_reader import Invalid, Reader
    from cloacina_build.manifest_parser import _task_full

    memo = FastTasks()
    for raw, edit in cases:
        raw = copy.deepcopy(raw)
        edit(raw)
        fast = memo.task(raw)
        reader = Reader(code="schema-manifest", location="manifest.json")
        try:
            full = _task_full(reader, raw, "t")
            full = None if reader.findings else full
        except Invalid:
            full = None
        if fast is not None:
            assert full == fast


def test_the_fast_task_reader_takes_what_the_builder_writes(built_pipeline):
    from cloacina_build.fast_tasks import FastTasks
    from cloacina_build.format.package import open_package

    raw = json.loads(open_package(built_pipeline).manifest_bytes)
    fast = FastTasks()
    assert all(fast.task(t) is not None for t in raw["workflow"]["tasks"])
