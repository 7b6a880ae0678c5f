"""ops/graph_view and ops/graph_render: the graph, its marks, and text, dot and Mermaid
source that stay well-formed whatever the task ids hold (checked by Graphviz's ``dot`` and
an independent Mermaid checker: tests/graph_checks.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina_build.cli.terminal import printable
from cloacina_build.model import (
    Language,
    PackageInfo,
    Retry,
    RuleType,
    SourceLocation,
    Task,
    TriggerRule,
    Workflow,
)
from cloacina_build.ops.describe import Description, describe_path
from cloacina_build.ops.graph_render import to_dot, to_mermaid, to_text, visible
from cloacina_build.ops.graph_view import Graph, graph_of

from .conftest import EXAMPLES
from .graph_checks import check_mermaid, dot_layout, dot_name, dot_nodes, needs_dot

# -- building graphs from the typed model ------------------------------------------------

def task(tid: str, deps: list[str] = (), *, retries: int | None = None,
         rule: TriggerRule | None = None) -> Task:
    return Task(tid, "m:f", tuple(deps), Retry(attempts=retries), rule, False, None,
                SourceLocation("tasks.py", 1), "0" * 64)


def graph(*tasks: Task, name: str = "wf") -> Graph:
    wf = Workflow(name, "m", "0" * 64, "sha256", tuple(tasks), (), (), ())
    desc = Description("here", "project", PackageInfo("pkg", "1.0", Language.PYTHON), wf,
                       None, None, None, None, None, ())
    return graph_of(desc)


GATE = TriggerRule(RuleType.TASK_SUCCESS, task_name="a")


# -- the graph ---------------------------------------------------------------------------

def test_order_etl_graph_has_levels_edges_and_marks():
    g = graph_of(describe_path(EXAMPLES / "order-etl"))
    assert [list(level) for level in g.levels] == [
        ["extract_orders"], ["validate_orders"], ["load_orders"], ["notify"]]
    assert sorted(g.edges) == [("extract_orders", "validate_orders"),
                               ("load_orders", "notify"), ("validate_orders", "load_orders")]
    marks = {n.id: (n.marks, n.retries, n.when) for n in g.nodes}
    assert marks == {
        "extract_orders": (["retries"], 3, None),
        "validate_orders": ([], None, None),
        "load_orders": (["retries", "trigger-rule"], 5,
                        "(validate_orders succeeded and valid_orders exists)"),
        "notify": (["trigger-rule"], None, "notify_enabled == True"),
    }
    assert g.ok and g.unplaced == []


def test_zero_retries_and_an_always_rule_are_not_marks():
    g = graph(task("a", retries=0), task("b", ["a"], rule=TriggerRule(RuleType.ALWAYS)))
    assert [n.marks for n in g.nodes] == [[], []]
    assert "marks:" not in to_text(g)
    assert "peripheries" not in to_dot(g) and "dashed" not in to_dot(g)
    assert "  class " not in to_mermaid(g)


def test_a_broken_graph_is_drawn_with_its_findings():
    """A package's graph may be broken: the cycle is drawn with its tasks unplaced, an
    unknown dependency stays on its node (not an edge to a made-up node), a duplicated id
    is one node."""
    g = graph(task("a"), task("b", ["a", "c", "ghost"]), task("c", ["b"]), task("d", ["c"]),
              task("a", ["d"]))
    assert [n.id for n in g.nodes] == ["a", "b", "c", "d"]
    assert [list(level) for level in g.levels] == [["a"]]
    assert g.unplaced == ["b", "c", "d"]
    assert g.nodes[1].missing == ("ghost",)
    assert len(g.edges) == 4 and not g.ok
    assert {f.code for f in g.findings} == {"graph-cycle", "graph-unknown-dependency",
                                            "graph-duplicate-id"}
    text = to_text(g)
    assert "not placed (on a dependency cycle, or depending on one)" in text
    assert "  b <- a, c, ghost (no such task)" in text


def test_a_dependency_named_twice_is_one_edge():
    """A hostile manifest may list a dependency twice: one edge, drawn once in each form."""
    g = graph(task("a"), task("b", ["a", "ghost", "a", "ghost"]))
    assert g.edges == (("a", "b"),)
    assert (g.nodes[1].dependencies, g.nodes[1].missing) == (("a",), ("ghost",))
    assert to_dot(g).count(" -> ") == 1 and to_mermaid(g).count(" --> ") == 1
    assert "  b <- a, ghost (no such task)\n" in to_text(g)


def test_to_dict_is_the_graph_as_json():
    g = graph(task("a", retries=2), task("b", ["a"], rule=GATE))
    d = json.loads(json.dumps(g.to_dict()))
    assert d["counts"] == {"tasks": 2, "edges": 1, "levels": 2}
    assert d["edges"] == [{"from": "a", "to": "b"}]
    assert d["levels"] == [["a"], ["b"]]
    assert d["nodes"][0]["marks"] == ["retries"] and d["nodes"][0]["retries"] == 2
    assert d["nodes"][1]["marks"] == ["trigger-rule"]
    assert d["nodes"][1]["trigger_rules"] == {"type": "TaskSuccess", "task_name": "a"}
    assert d["nodes"][1]["when"] == "a succeeded"
    assert d["ok"] is True and d["findings"] == [] and d["unplaced"] == []


# -- text --------------------------------------------------------------------------------

def test_text_of_order_etl():
    g = graph_of(describe_path(EXAMPLES / "order-etl"))
    assert to_text(g) == (
        "order_etl (order-etl 0.3.0, project): 4 task(s), 3 dependencies, 4 level(s)\n"
        "level 1\n"
        "  extract_orders  [retries: 3]\n"
        "level 2\n"
        "  validate_orders <- extract_orders\n"
        "level 3\n"
        "  load_orders <- validate_orders  [retries: 5] [when: (validate_orders succeeded "
        "and valid_orders exists)]\n"
        "level 4\n"
        "  notify <- load_orders  [when: notify_enabled == True]\n"
        "marks: [retries: N] retried up to N times after a failure; [when: RULE] runs only "
        "when its trigger rule holds, else skipped\n")


# -- dot ---------------------------------------------------------------------------------

@needs_dot
def test_dot_of_order_etl_renders_with_its_marks():
    g = graph_of(describe_path(EXAMPLES / "order-etl"))
    layout = dot_layout(to_dot(g))
    nodes = dot_nodes(layout)
    assert set(nodes) == {"extract_orders", "validate_orders", "load_orders", "notify"}
    assert len(layout["edges"]) == 3
    by_gvid = {o["_gvid"]: o["name"] for o in layout["objects"]}
    assert sorted((by_gvid[e["tail"]], by_gvid[e["head"]]) for e in layout["edges"]) == \
        sorted(g.edges)
    assert nodes["extract_orders"].get("peripheries") == "2"
    assert "dashed" in nodes["notify"]["style"] and "dashed" in nodes["load_orders"]["style"]
    assert "dashed" not in nodes["validate_orders"].get("style", "")
    assert nodes["load_orders"]["label"].split("\\n") == [
        "load_orders", "retries: 5",
        "when: (validate_orders succeeded and valid_orders exists)"]


# -- Mermaid -----------------------------------------------------------------------------

def test_mermaid_of_order_etl():
    g = graph_of(describe_path(EXAMPLES / "order-etl"))
    source = to_mermaid(g)
    nodes, edges = check_mermaid(source)
    assert nodes == {"t0": ["extract_orders", "retries: 3"],
                     "t1": ["load_orders", "retries: 5", "when: (validate_orders succeeded "
                            "and valid_orders exists)"],
                     "t2": ["notify", "when: notify_enabled == True"],
                     "t3": ["validate_orders"]}
    assert sorted(edges) == [("t0", "t3"), ("t1", "t2"), ("t3", "t1")]
    assert "  class t0,t1 retries\n" in source and "  class t1,t2 gated\n" in source


def test_the_mermaid_checker_refuses_what_mermaid_would_misread():
    """The checker is not a rubber stamp: raw quotes, brackets, pipes and bare ids fail."""
    for bad in ('  t0["a"b"]', '  t0["a]"]', "  t0[a|b]", "  end --> t0", '  t0["`x`"]',
                '  t0["a<b"]', '  t0["#x"]'):
        with pytest.raises(AssertionError):
            check_mermaid(f'flowchart TD\n  t1["ok"]\n{bad}\n')


# -- hostile ids -------------------------------------------------------------------------

HOSTILE = ['"', "\\", "\\N", "\\G", "\\n", "\n", "\r", "\x00", "\x1b[2J", "\u202e", "\ud800",
           "end", "subgraph", "node", "edge", "graph", "strict", "digraph", "-->", "->",
           "]", "[", "|", "<", ">", "<br/>", "`", "```", "#quot;", "#35;", "&amp;", ";",
           "%%", "%", "%3", "{", "}", "(", ")", "click", "style", "classDef", "::", ":::", " ",
           "\t", "\u2028", "é", "漢", "\ufeff", "\u200b"]
ANY_CHAR = st.characters(exclude_categories=[])        # lone surrogates too
IDS = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(ANY_CHAR, max_size=6)),
               max_size=4).map("".join)


@st.composite
def hostile_graphs(draw) -> Graph:
    ids = draw(st.lists(IDS, min_size=1, max_size=7, unique=True))
    tasks = []
    for tid in ids:
        deps = draw(st.lists(st.sampled_from(ids) | IDS, max_size=3, unique=True))
        retries = draw(st.none() | st.integers(0, 5))
        rule = draw(st.none() | st.builds(
            lambda k, v: TriggerRule(RuleType.CONTEXT_VALUE, key=k, operator=None, value=v),
            IDS, IDS))
        tasks.append(task(tid, deps, retries=retries, rule=rule))
    return graph(*sorted(tasks, key=lambda t: t.id), name=draw(IDS))


@needs_dot
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_graphs())
def test_dot_of_any_ids_parses_with_the_right_nodes_and_edges(g):
    layout = dot_layout(to_dot(g))
    assert sorted(dot_name(name) for name in dot_nodes(layout)) == sorted(n.id for n in g.nodes)
    assert len(layout.get("objects", [])) == len(g.nodes)
    assert len(layout.get("edges", [])) == len(g.edges)


@settings(max_examples=300, deadline=None)
@given(hostile_graphs())
def test_mermaid_of_any_ids_has_one_safe_node_per_task_and_one_edge_per_dependency(g):
    nodes, edges = check_mermaid(to_mermaid(g))
    assert [labels[0] for labels in nodes.values()] == [visible(n.id) for n in g.nodes]
    index = {n.id: f"t{i}" for i, n in enumerate(g.nodes)}
    assert edges == [(index[a], index[b]) for a, b in g.edges]


@settings(max_examples=300, deadline=None)
@given(hostile_graphs())
def test_text_and_sources_of_any_ids_keep_their_lines(g):
    """No id breaks a line or carries a control character: the text has one line per
    level and per task, and every output encodes as UTF-8 and is already printable."""
    text = to_text(g)
    lines = text.split("\n")
    legend = any(n.marks for n in g.nodes)
    assert len(lines) == (1 + len(g.levels) + len(g.nodes) + (1 if g.unplaced else 0)
                          + legend + 1)
    for source in (text, to_dot(g), to_mermaid(g)):
        source.encode("utf-8")
        assert all(printable(line) == line for line in source.split("\n"))
    dot_lines = to_dot(g).split("\n")
    assert len(dot_lines) == 3 + len(g.nodes) + len(g.edges) + 2


def test_dot_ids_are_one_to_one():
    ids = ["a\\", 'a"', "a\\\"", "a\\\\", "a\n", "a\\x0a", "a\\n", "a"]
    from cloacina_build.ops.graph_render import dot_id
    assert len({dot_id(i) for i in ids}) == len(ids)
    assert all("\n" not in dot_id(i) for i in ids)
