"""Graph checks: duplicates, unknown dependencies, cycles, emptiness, execution levels."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.model import Retry, SourceLocation, Task
from cloacina_build.project.graph import execution_levels, find_cycle, graph_findings
from cloacina_build.rulebook import trigger_rule


def task(id_, deps=(), line=1, rule=None):
    return Task(id_, f"pkg.tasks:{id_}", tuple(deps), Retry(),
                trigger_rule(rule) if rule else None, False, None,
                SourceLocation("pkg/tasks.py", line), "0" * 64)


def test_tasks_in_the_manifests_json_form_are_accepted_too():
    as_dicts = [t.to_dict() for t in (task("a"), task("b", ["a"]), task("c", ["zz"], 4))]
    (f,) = graph_findings(as_dicts, "wf")
    assert f.code == "graph-unknown-dependency" and f.location == "pkg/tasks.py:4"
    assert execution_levels(as_dicts[:2]) == [["a"], ["b"]]


def test_valid_graph_has_no_findings():
    assert graph_findings([task("a"), task("b", ["a"]), task("c", ["a", "b"])], "wf") == []


def test_empty_workflow():
    (f,) = graph_findings([], "wf")
    assert f.code == "graph-empty" and "'wf' has no tasks" in f.message


def test_duplicate_id_names_both_places():
    (f,) = graph_findings([task("a", line=3), task("a", line=9)], "wf")
    assert f.code == "graph-duplicate-id"
    assert f.location == "pkg/tasks.py:9" and "pkg/tasks.py:3" in f.message


def test_unknown_dependency_suggests_the_close_name():
    (f,) = graph_findings([task("collect_data"), task("b", ["colect_data"], line=7)], "wf")
    assert f.code == "graph-unknown-dependency"
    assert "did you mean 'collect_data'" in f.message and f.location == "pkg/tasks.py:7"


def test_unknown_task_in_trigger_rule():
    rule = {"type": "All", "conditions": [{"type": "TaskSuccess", "task_name": "ghost"}]}
    (f,) = graph_findings([task("a", rule=rule)], "wf")
    assert f.code == "graph-unknown-rule-task"


def test_cycle_is_printed():
    findings = graph_findings([task("a", ["c"]), task("b", ["a"]), task("c", ["b"]),
                               task("d")], "wf")
    (f,) = findings
    assert f.code == "graph-cycle"
    assert f.message == "dependency cycle: a -> c -> b -> a"


def test_self_dependency_is_a_cycle():
    (f,) = graph_findings([task("a", ["a"])], "wf")
    assert f.message == "dependency cycle: a -> a"


def test_execution_levels():
    tasks = [task("d", ["b", "c"]), task("b", ["a"]), task("c", ["a"]), task("a")]
    assert execution_levels(tasks) == [["a"], ["b", "c"], ["d"]]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"),
                       st.lists(st.sampled_from("abcdefgh"), max_size=4), max_size=8))
def test_cycle_detection_agrees_with_levels(edges):
    """A graph is acyclic exactly when the levels cover every task; a reported cycle is real."""
    edges = {k: [d for d in v if d in edges] for k, v in edges.items()}
    tasks = [task(k, v) for k, v in edges.items()]
    levels = execution_levels(tasks)
    covered = sum(len(level) for level in levels)
    cycle = find_cycle(edges)
    assert (cycle is None) == (covered == len(edges))
    if cycle:
        assert cycle[0] == cycle[-1]
        for here, nxt in zip(cycle, cycle[1:], strict=False):
            assert nxt in edges[here]
    else:
        position = {t: i for i, level in enumerate(levels) for t in level}
        for k, deps in edges.items():
            assert all(position[d] < position[k] for d in deps)
