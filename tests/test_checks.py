"""The families of validation checks, one at a time, on the typed model."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina_build.format.elf import embedded_task_graph, host, host_problems
from cloacina_build.model import Manifest, Member, NativeFacts
from cloacina_build.ops.checks.members import member_findings
from cloacina_build.ops.checks.metadata import consistency_findings

from .manifest_strategies import json_value, manifests


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["tasks", "x"]), json_value | st.lists(
    st.dictionaries(st.sampled_from(["id", "dependencies"]), json_value), max_size=3)))
def test_embedded_task_graph_is_total(meta):
    graph = embedded_task_graph(meta)
    assert graph is None or all(isinstance(k, str) and isinstance(v, list)
                                for k, v in graph.items())


def test_embedded_task_graph_reads_edges():
    meta = {"tasks": [{"id": "b", "dependencies": ["a"]}, {"id": "a"}, "junk"]}
    assert embedded_task_graph(meta) == {"a": [], "b": ["a"]}
    assert embedded_task_graph({"tasks": [{"id": {"x": 1}}]}) is None
    assert embedded_task_graph({"tasks": [{"id": "a", "dependencies": 5}]}) is None


def test_host_problems_read_typed_facts():
    here = host()
    facts = NativeFacts("t", here["os"], here["arch"], 64, "m", "little", None, (), ())
    assert host_problems(facts) == []
    far = dataclasses.replace(facts, os="plan9", glibc_floor="999.0")
    problems = host_problems(far)
    assert any("plan9" in p for p in problems) and any("999.0" in p for p in problems)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(manifests())
def test_member_check_against_what_was_streamed(doc):
    from .manifest_strategies import dumps

    m, _ = Manifest.parse(dumps(doc))
    assert m is not None
    seen = {e.path: (e.size, e.sha256) for e in m.members}
    assert [f.code for f in member_findings(m, seen)] == (
        ["member-listed-manifest"] if "manifest.json" in seen else [])
    extra = {**seen, "stray": (1, "0" * 64)}
    assert "member-unlisted" in [f.code for f in member_findings(m, extra)] or \
        "stray" in seen
    first: Member = m.members[0]
    if first.path != "manifest.json":
        changed = {**seen, first.path: (first.size + 1, first.sha256)}
        assert "digest-size-mismatch" in [f.code for f in member_findings(m, changed)]
    consistency_findings(m, None)  # never raises on an accepted manifest
