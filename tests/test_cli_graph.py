"""``cloacinactl graph``: text, dot, Mermaid and JSON for packages of both formats and
projects; ``-o`` written atomically; a broken graph drawn and reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.build.builder import build_package
from cloacina_build.cli.main import cli

from .conftest import EXAMPLES
from .graph_checks import check_mermaid, dot_layout, dot_name, needs_dot
from .hostile import edit_manifest, read_members, write_members
from .workflows import build

ENGINE_FIXTURE = Path(__file__).parent / "fixtures" / "engine" / "python-workflow.cloacina"


def run(*args: str):
    return CliRunner().invoke(cli, ["graph", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def engine_etl(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("engine") / "order-etl-0.3.0.cloacina"
    return Path(build_package(EXAMPLES / "order-etl", out, format="engine").path)


ETL_TEXT = [
    "level 1",
    "  extract_orders  [retries: 3]",
    "level 2",
    "  validate_orders <- extract_orders",
    "level 3",
    "  load_orders <- validate_orders  [retries: 5] [when: (validate_orders succeeded and "
    "valid_orders exists)]",
    "level 4",
    "  notify <- load_orders  [when: notify_enabled == True]",
    "marks: [retries: N] retried up to N times after a failure; [when: RULE] runs only when "
    "its trigger rule holds, else skipped",
]


@pytest.mark.parametrize("which", ["cloacina", "engine", "project"])
def test_text_is_the_same_for_both_formats_and_the_project(which, built_etl, engine_etl):
    path = {"cloacina": built_etl, "engine": engine_etl, "project": EXAMPLES / "order-etl"}
    result = run(str(path[which]))
    assert result.exit_code == 0, result.output
    kind = {"cloacina": "package", "engine": "engine archive", "project": "project"}[which]
    assert result.output.split("\n") == [
        f"order_etl (order-etl 0.3.0, {kind}): 4 task(s), 3 dependencies, 4 level(s)",
        *ETL_TEXT, ""]


def test_text_of_data_pipeline_and_of_an_engine_archive_from_the_engine(built_pipeline):
    result = run(str(built_pipeline))
    assert result.exit_code == 0
    assert result.output == (
        "data_pipeline (data-pipeline 1.0.0, package): 3 task(s), 2 dependencies, 3 level(s)\n"
        "level 1\n  collect_data  [retries: 2]\n"
        "level 2\n  process_data <- collect_data  [retries: 3]\n"
        "level 3\n  generate_report <- process_data  [retries: 1]\n"
        "marks: [retries: N] retried up to N times after a failure\n")
    result = run(str(ENGINE_FIXTURE))
    assert result.exit_code == 0
    assert result.output == ("test_fixture_python (test-fixture-python 1.0.0, engine "
                             "archive): 1 task(s), 0 dependencies, 1 level(s)\n"
                             "level 1\n  fixture-task1\n")


@needs_dot
@pytest.mark.parametrize("which", ["cloacina", "engine", "project"])
def test_dot_renders_with_graphviz(which, built_etl, engine_etl):
    path = {"cloacina": built_etl, "engine": engine_etl, "project": EXAMPLES / "order-etl"}
    result = run(str(path[which]), "--format", "dot")
    assert result.exit_code == 0
    layout = dot_layout(result.output)
    assert sorted(o["name"] for o in layout["objects"]) == [
        "extract_orders", "load_orders", "notify", "validate_orders"]
    assert len(layout["edges"]) == 3


@pytest.mark.parametrize("which", ["cloacina", "engine", "project"])
def test_mermaid_has_a_node_per_task_and_an_edge_per_dependency(which, built_etl, engine_etl):
    path = {"cloacina": built_etl, "engine": engine_etl, "project": EXAMPLES / "order-etl"}
    result = run(str(path[which]), "--format", "mermaid")
    assert result.exit_code == 0
    nodes, edges = check_mermaid(result.output)
    assert sorted(labels[0] for labels in nodes.values()) == [
        "extract_orders", "load_orders", "notify", "validate_orders"]
    assert len(edges) == 3


def test_json_is_the_graph(built_etl):
    result = run(str(built_etl), "--json")
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["ok"] is True and out["kind"] == "cloacina" and out["output"] is None
    assert out["workflow"] == "order_etl"
    assert out["package"] == {"name": "order-etl", "version": "0.3.0"}
    assert out["counts"] == {"tasks": 4, "edges": 3, "levels": 4}
    assert out["levels"] == [["extract_orders"], ["validate_orders"], ["load_orders"],
                             ["notify"]]
    assert {(e["from"], e["to"]) for e in out["edges"]} == {
        ("extract_orders", "validate_orders"), ("validate_orders", "load_orders"),
        ("load_orders", "notify")}
    marks = {n["id"]: n["marks"] for n in out["nodes"]}
    assert marks == {"extract_orders": ["retries"], "validate_orders": [],
                     "load_orders": ["retries", "trigger-rule"], "notify": ["trigger-rule"]}


# -- -o ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fmt", "first"), [
    ("g.dot", None, 'digraph "order_etl" {'), ("g.gv", None, 'digraph "order_etl" {'),
    ("g.mmd", None, "flowchart TD"), ("g.mermaid", None, "flowchart TD"),
    ("g.txt", None, "order_etl (order-etl 0.3.0, package)"),
    ("g.txt", "dot", 'digraph "order_etl" {'), ("g.dot", "mermaid", "flowchart TD")])
def test_output_file_format_comes_from_format_or_the_suffix(built_etl, tmp_path, name, fmt,
                                                             first):
    out = tmp_path / name
    args = [str(built_etl), "-o", str(out)] + (["--format", fmt] if fmt else [])
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith(first)
    assert result.output.startswith(f"wrote {out} (")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]   # no temporary left


def test_output_file_holds_what_stdout_would(built_etl, tmp_path):
    for fmt in ("text", "dot", "mermaid"):
        out = tmp_path / f"g.{fmt}"
        assert run(str(built_etl), "--format", fmt, "-o", str(out)).exit_code == 0
        assert out.read_text() == run(str(built_etl), "--format", fmt).output


def test_json_with_output_says_what_was_written(built_etl, tmp_path):
    out = tmp_path / "g.dot"
    result = run(str(built_etl), "-o", str(out), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["output"] == {"path": str(out), "format": "dot", "bytes": out.stat().st_size}
    assert data["counts"]["tasks"] == 4


def test_json_with_format_and_no_output_is_a_usage_error(built_etl):
    result = run(str(built_etl), "--json", "--format", "dot")
    assert result.exit_code == 2
    assert json.loads(result.output)["error"]["code"] == "usage"


def test_output_replaces_a_file_atomically_and_never_the_input(built_etl, tmp_path):
    out = tmp_path / "g.dot"
    out.write_text("old")
    assert run(str(built_etl), "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("digraph")
    before = built_etl.read_bytes()
    result = run(str(built_etl), "-o", str(built_etl))
    assert result.exit_code == 2 and "is the input itself" in result.output
    assert built_etl.read_bytes() == before
    # a failing input leaves an existing output as it was
    out.write_text("old")
    assert run(str(tmp_path / "missing.cloacina"), "-o", str(out)).exit_code == 2
    assert out.read_text() == "old"


def test_unwritable_output_names_it_and_leaves_nothing(built_etl, tmp_path):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "g.dot"
    result = run(str(built_etl), "-o", str(out), "--json")
    assert result.exit_code == 2
    error = json.loads(result.output)["error"]
    assert error["code"] == "output-unwritable" and str(out) in error["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# -- broken graphs and hostile names -----------------------------------------------------

def _cycle(manifest):
    for task in manifest["workflow"]["tasks"]:
        if task["id"] == "collect_data":
            task["dependencies"] = ["generate_report"]


def test_a_cyclic_package_is_drawn_and_fails(pipeline_pkg, tmp_path):
    cyclic = write_members(tmp_path / "cyclic.cloacina",
                           edit_manifest(read_members(pipeline_pkg), _cycle,
                                         refingerprint=True))
    result = CliRunner().invoke(cli, ["graph", str(cyclic)])
    assert result.exit_code == 1
    assert "not placed (on a dependency cycle, or depending on one)" in result.stdout
    assert "error[graph-cycle]" in result.stderr
    data = json.loads(run(str(cyclic), "--json").output)
    assert data["ok"] is False and data["levels"] == []
    assert sorted(data["unplaced"]) == ["collect_data", "generate_report", "process_data"]
    assert [f["code"] for f in data["findings"]] == ["graph-cycle"]


KEYWORD_IDS = ["end", "subgraph", "graph", "node", "edge", "digraph", "strict", "a.b-c",
               "_x", "click", "style", "class"]


@pytest.fixture(scope="module")
def keyword_pkg(tmp_path_factory) -> Path:
    """Task ids that are keywords of DOT or Mermaid, in a package built by the tool."""
    root = tmp_path_factory.mktemp("keywords")
    lines = ["import cloaca", ""]
    for i, tid in enumerate(KEYWORD_IDS):
        deps = KEYWORD_IDS[max(0, i - 2):i]
        lines += [f"@cloaca.task(id={tid!r}, dependencies={deps!r})",
                  f"def f{i}(context):", "    return context", ""]
    return build(root / "kw", "\n".join(lines), root)


@needs_dot
def test_keyword_ids_are_plain_nodes_in_dot(keyword_pkg):
    layout = dot_layout(run(str(keyword_pkg), "--format", "dot").output)
    assert sorted(dot_name(o["name"]) for o in layout["objects"]) == sorted(KEYWORD_IDS)
    assert len(layout["edges"]) == 2 * len(KEYWORD_IDS) - 3


def test_keyword_ids_are_plain_nodes_in_mermaid(keyword_pkg):
    nodes, edges = check_mermaid(run(str(keyword_pkg), "--format", "mermaid").output)
    assert sorted(labels[0] for labels in nodes.values()) == sorted(KEYWORD_IDS)
    assert len(edges) == 2 * len(KEYWORD_IDS) - 3


@needs_dot
def test_cloacinactl_graph_pipes_into_dot(built_pipeline, tmp_path):
    """End to end: the installed command's output, through a pipe, into Graphviz."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    made = subprocess.run([sys.executable, "-m", "cloacina_build", "graph",
                           str(built_pipeline), "--format", "dot"], capture_output=True,
                          env=env, timeout=120, check=True)
    svg = subprocess.run(["dot", "-Tsvg"], input=made.stdout, capture_output=True,
                         timeout=120, check=True)
    assert svg.stdout.count(b'class="node"') == 3 and svg.stdout.count(b'class="edge"') == 2


def test_a_project_with_errors_is_refused_naming_the_place(pipeline_project):
    tasks = pipeline_project / "workflow" / "data_pipeline" / "tasks.py"
    tasks.write_text(tasks.read_text().replace('dependencies=["process_data"]',
                                               'dependencies=["proces_data"]'))
    result = CliRunner().invoke(cli, ["graph", str(pipeline_project)])
    assert result.exit_code == 1
    assert "graph-unknown-dependency" in result.stderr and "did you mean" in result.stderr


# -- the library call behind the command ---------------------------------------------------

def test_draw_is_the_command_as_one_library_call(built_etl, tmp_path):
    from cloacina_build.cli.graph import FORMATS
    from cloacina_build.ops import graph_output
    from cloacina_build.ops.graph_render import to_mermaid, to_text
    from cloacina_build.ops.graph_view import graph_path

    assert FORMATS == graph_output.FORMATS
    plain = graph_output.draw(built_etl)
    assert (plain.format, plain.output, plain.written) == ("text", None, None)
    assert plain.text == to_text(graph_path(built_etl))
    out = tmp_path / "g.mmd"
    drawn = graph_output.draw(built_etl, output=out)  # the format from the suffix
    assert drawn.format == "mermaid" and out.read_text("utf-8") == drawn.text
    assert drawn.text == to_mermaid(drawn.graph) and drawn.written == out.stat().st_size
    assert drawn.to_dict()["output"] == {"path": str(out), "format": "mermaid",
                                         "bytes": drawn.written}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.mmd"]  # no temporary left


def test_draw_never_writes_over_its_input_by_any_name(built_etl, tmp_path):
    from cloacina_build.errors import UsageError
    from cloacina_build.ops.graph_output import draw

    before = built_etl.read_bytes()
    link = tmp_path / "link.cloacina"
    link.symlink_to(built_etl)
    hard = tmp_path / "hard.cloacina"
    os.link(built_etl, hard)
    for output in (built_etl, link, hard):
        with pytest.raises(UsageError) as info:
            draw(built_etl, "dot", output)
        assert info.value.code == "output-is-input"
    assert built_etl.read_bytes() == before and link.is_symlink()
    with pytest.raises(UsageError):
        draw(built_etl, "svg")
