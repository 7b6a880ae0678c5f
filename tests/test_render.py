"""The readable forms never raise on anything the parser accepts, and never pass a control
character from a package through to the terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina_build.cli.render import (
    inspect_text,
    printable,
    rule_text,
    signature_lines,
)
from cloacina_build.model import Manifest, SignatureStatus
from cloacina_build.ops.inspect import Inspection
from cloacina_build.project.graph import execution_levels as levels
from cloacina_build.trust.signatures import SignatureVerdict

from .manifest_strategies import dumps, manifests

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20) | st.sampled_from(
    ["\x1b[2J", "a\nb", "\u202eevil", "\r", "\x9b31m"])

verdicts = st.lists(st.builds(
    SignatureVerdict, member=hostile_text, status=st.sampled_from(list(SignatureStatus)),
    key_id=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
    signer=st.none() | hostile_text, signed_at=st.none() | hostile_text,
    comment=st.none() | hostile_text, detached=st.booleans()), max_size=3)


def _inspection(m: Manifest, signatures) -> Inspection:
    return Inspection(path="p.cloacina", manifest=m, levels=levels(m.workflow.tasks),
                      file_size=123, manifest_size=len(m.to_json()), digest="0" * 64,
                      signatures=signatures)


@settings(max_examples=150, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(manifests(), verdicts)
def test_inspect_text_renders_every_accepted_manifest(doc, signatures):
    m, findings = Manifest.parse(dumps(doc))
    assert m is not None, findings
    info = _inspection(m, signatures)
    text = inspect_text(info)
    assert not CONTROL.search(text), repr(text)
    assert text.splitlines()[0].startswith(printable(f"{m.package.name} {m.package.version}"))
    json.dumps(info.to_dict(), ensure_ascii=False).encode("utf-8")


def test_inspect_json_keeps_its_shape(built_pipeline):
    from cloacina_build.ops.inspect import inspect, inspect_package

    info = inspect(built_pipeline)
    data = inspect_package(built_pipeline)
    assert data == info.to_dict()
    assert set(data) == {"ok", "format", "path", "format_version", "package", "workflow", "tasks",
                         "triggers", "params", "secrets", "payload", "sizes", "native",
                         "build", "digest",
                         "signatures"}
    assert "path" not in data["payload"] and data["sizes"]["file"] == Path(
        built_pipeline).stat().st_size
    assert data["tasks"] == [t.to_dict() for t in info.manifest.workflow.tasks]


def test_rules_read_as_words():
    from cloacina_build import rulebook as rb

    rule = rb.trigger_rule({"type": "All", "conditions": [
        {"type": "ContextValue", "key": "orders", "operator": "Exists", "value": None},
        {"type": "Any", "conditions": [
            {"type": "TaskSuccess", "task_name": "a"},
            {"type": "ContextValue", "key": "n", "operator": "GreaterThan", "value": 3}]},
        {"type": "None", "conditions": [{"type": "TaskFailed", "task_name": "b"}]}]})
    assert rule_text(rule) == "(orders exists and (a succeeded or n > 3) and not (b failed))"
    assert rule_text(None) == "-" and rule_text(rb.trigger_rule({"type": "Always"})) == "-"


def test_signature_lines_escape_what_a_package_says():
    verdict = SignatureVerdict("signatures/x.json", SignatureStatus.UNTRUSTED, "a" * 64,
                               "\x1b[31mroot", "2024-01-01T00:00:00Z", "hi\nthere")
    (line,) = signature_lines([verdict])
    assert "NOT TRUSTED" in line
    assert "\x1b" in line  # signature_lines builds lines; the text forms escape them
    assert printable(line) == line.replace("\x1b", "\\x1b").replace("\n", "\\n")
    malformed = SignatureVerdict("signatures/bad.json", SignatureStatus.MALFORMED)
    assert signature_lines([malformed]) == ["  signatures/bad.json: malformed"]
    assert malformed.to_dict() == {"member": "signatures/bad.json", "status": "malformed"}
