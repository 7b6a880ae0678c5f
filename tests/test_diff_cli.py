"""``cloacinactl diff``: the text (golden), JSON, exit codes as diff(1) has them, -q, and
broken or hostile inputs: exit 2 with one error line and one hint, strings escaped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.cli.main import cli

from .hostile import edit_manifest, read_members, write_members
from .test_cli import check_golden
from .test_diff import DP_TASKS, ETL, NOTIFY, SUMMARIZE, copy, edit

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def run(*args):
    return CliRunner().invoke(cli, ["diff", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def edited(tmp_path, monkeypatch) -> tuple[str, str]:
    """data-pipeline as ``old`` and, as ``new``: collect_data's body changed,
    process_data renamed clean_data, generate_report removed, summarize added, version
    1.1.0.  The working directory is tmp_path, so the header names ``old`` and ``new``."""
    copy("data-pipeline", tmp_path / "old")
    new = copy("data-pipeline", tmp_path / "new")
    edit(new, "package.toml", 'version = "1.0.0"', 'version = "1.1.0"')
    edit(new, DP_TASKS, '"records": 1000', '"records": 2000')
    edit(new, DP_TASKS, 'id="process_data"', 'id="clean_data"')
    edit(new, DP_TASKS, "def process_data", "def clean_data")
    text = (new / DP_TASKS).read_text()
    start = text.index('@cloaca.task(id="generate_report"')
    (new / DP_TASKS).write_text(text[:start] + SUMMARIZE.replace("process_data", "clean_data"))
    monkeypatch.chdir(tmp_path)
    return "old", "new"


def test_text_golden(edited):
    result = run(*edited)
    assert result.exit_code == 1
    check_golden("diff-data-pipeline.txt", result.output)
    lines = result.output.splitlines()
    assert lines[2] == ("1 task changed, 1 added, 1 removed, 1 renamed; 2 edges added, "
                        "1 removed; metadata: version")


def test_quiet_prints_the_summary_only(edited):
    result = run("-q", *edited)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "1 task changed, 1 added, 1 removed, 1 renamed; 2 edges added, 1 removed; "
        "metadata: version"]


def test_json(edited):
    result = run("--json", *edited)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["differs"] is True
    assert data["differs_in"] == ["tasks", "edges", "workflow", "package"]
    assert [t["id"] for t in data["tasks"]["added"]] == ["summarize"]
    assert [(r["old_id"], r["id"], r["matched_by"]) for r in data["tasks"]["renamed"]] == \
        [("process_data", "clean_data", "place")]
    assert data["tasks"]["changed"][0]["changes"]["code"]["old"] != \
        data["tasks"]["changed"][0]["changes"]["code"]["new"]
    assert data["package"] == {"version": {"old": "1.0.0", "new": "1.1.0"}}
    assert data["edges"]["removed"] == [{"dependency": "process_data",
                                         "task": "generate_report"}]
    assert data["old"]["kind"] == "project" and data["signatures"] is None


def test_exit_codes(edited):
    assert run("--exit-zero", *edited).exit_code == 0
    same = run("old", "old")
    assert same.exit_code == 0 and same.output.splitlines()[2] == "no differences"
    assert run("--json", "--exit-zero", *edited).exit_code == 0


def test_exit_codes_of_the_real_command(edited):
    assert subprocess.run([EXE, "diff", *edited], capture_output=True).returncode == 1
    assert subprocess.run([EXE, "diff", "--exit-zero", *edited],
                          capture_output=True).returncode == 0
    broken = subprocess.run([EXE, "diff", "old", "missing"], capture_output=True, text=True)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr


@pytest.fixture
def broken(tmp_path, built_pipeline) -> dict[str, Path]:
    data = built_pipeline.read_bytes()
    out = {"garbage": tmp_path / "garbage.cloacina", "truncated": tmp_path / "cut.cloacina",
           "empty": tmp_path / "empty.cloacina", "missing": tmp_path / "missing.cloacina",
           "not-a-project": tmp_path / "just-a-dir"}
    out["garbage"].write_bytes(b"PK\x03\x04 not a package")
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["empty"].write_bytes(b"")
    out["not-a-project"].mkdir()
    project = out["bad-graph"] = copy("data-pipeline", tmp_path / "bad-graph")
    edit(project, DP_TASKS, 'dependencies=["process_data"]', 'dependencies=["proces_data"]')
    bad_config = out["bad-config"] = copy("order-etl", tmp_path / "bad-config")
    edit(bad_config, "pyproject.toml", "[tool.cloacina]", "[tool.cloacina]\nbogus = 1")
    return out


@pytest.mark.parametrize("what", ["garbage", "truncated", "empty", "missing",
                                  "not-a-project", "bad-graph", "bad-config"])
@pytest.mark.parametrize("side", ["OLD", "NEW"])
def test_broken_inputs_exit_2_with_one_error_line_and_a_hint(broken, built_pipeline, what,
                                                             side):
    args = (broken[what], built_pipeline) if side == "OLD" else (built_pipeline, broken[what])
    result = run(*args)
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert len(err) == 2, err
    assert err[0].startswith(f"error: cannot read {side}: ") and err[1].startswith("hint: ")
    assert result.stdout == ""
    data = json.loads(run("--json", *args).stdout)
    assert data["ok"] is False and data["error"]["hint"]
    assert data["error"]["message"] == err[0][len("error: "):]


def test_a_broken_project_names_its_first_problem(broken, built_pipeline):
    err = run(built_pipeline, broken["bad-graph"]).stderr
    assert "graph-unknown-dependency" in err and "proces_data" in err
    # the hint is a command to run as it stands, the project's own path in it
    assert f"hint: run 'cloacinactl validate {broken['bad-graph']}' to see every " \
           "problem" in err, err
    err = run(broken["bad-config"], built_pipeline).stderr
    assert f"hint: run 'cloacinactl validate {broken['bad-config']}'" in err, err
    (broken["bad-config"] / "pyproject.toml").write_text("[project\n")  # not TOML
    err = run(broken["bad-config"], built_pipeline).stderr
    assert err.startswith(f"error: cannot read OLD: {broken['bad-config']}: pyproject.toml: "
                          "invalid TOML"), err


HOSTILE = "evil\x1b[2J\nforged: no differences\u202e\x07"


def test_strings_from_packages_are_escaped(built_pipeline, tmp_path):
    evil = tmp_path / "evil.cloacina"

    def poison(manifest):
        manifest["package"]["description"] = HOSTILE

    write_members(evil, edit_manifest(read_members(built_pipeline), poison), fix=True)
    result = run(built_pipeline, evil)
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\x07" not in result.output
    assert "evil\\x1b[2J\\nforged: no differences\\u202e\\x07" in result.output
    assert not any(line.startswith("forged") for line in result.output.splitlines())
    data = json.loads(run("--json", built_pipeline, evil).stdout)
    assert data["package"]["description"]["new"] == HOSTILE


def test_strings_from_projects_are_escaped(tmp_path):
    old, new = copy("order-etl", tmp_path / "old"), copy("order-etl", tmp_path / "new")
    edit(new, ETL, "batch_size=(int, 500)", 'batch_size=(int, 500), banner=(str, '
         '"\\x1b]0;pwned\\x07")')
    result = run(old, new)
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "banner" in result.output and "\\x1b]0;pwned\\x07" in result.output


def test_text_of_declarations(tmp_path, monkeypatch):
    old, new = copy("order-etl", tmp_path / "old"), copy("order-etl", tmp_path / "new")
    edit(new, NOTIFY, 'dependencies=["load_orders"]', 'dependencies=["validate_orders"]')
    edit(new, NOTIFY, "async def notify", "def notify")
    edit(new, ETL, "retry_attempts=5,", "retry_attempts=6,")
    edit(new, ETL, 'cron="0 2 * * *"', 'cron="0 3 * * *"')
    edit(new, ETL, "batch_size=(int, 500), region=str",
         "batch_size=(int, 1000), region=str, dry_run=(bool, False)")
    edit(new, ETL, '@cloaca.workflow_secrets("warehouse_dsn")',
         '@cloaca.workflow_secrets("warehouse_url")')
    text = run(old, new).output
    for line in ["      dependencies +validate_orders -load_orders",
                 "      is async true -> false",
                 "      retry attempts=5 condition=transient -> attempts=6 condition=transient",
                 "  ~ nightly  schedule 0 2 * * * -> 0 3 * * *",
                 "  + dry_run  bool, default false",
                 "  ~ batch_size  default 500 -> 1000",
                 "  + warehouse_url", "  - warehouse_dsn",
                 "  + validate_orders -> notify", "  - load_orders -> notify"]:
        assert f"\n{line}\n" in text, (line, text)
    # extract_orders too: the params and secrets decorators sit on it (its fingerprint)
    assert text.splitlines()[2] == ("3 tasks changed; 1 edge added, 1 removed; 1 trigger "
                                    "changed; 1 param added, 1 changed; 1 secret added, 1 "
                                    "removed")


def test_trigger_rules_are_shown_in_words(tmp_path):
    """A changed trigger rule reads as inspect's RUNS WHEN column does, not as its JSON;
    a task that gains a rule had none: 'always'."""
    old, new = copy("order-etl", tmp_path / "old"), copy("order-etl", tmp_path / "new")
    edit(new, ETL, "cloaca.all_of([", "cloaca.any_of([")
    edit(new, ETL, '@cloaca.task(id="validate_orders", dependencies=[extract_orders])',
         '@cloaca.task(id="validate_orders", dependencies=[extract_orders], '
         'trigger_rules=cloaca.context_value("orders", "exists", None))')
    text = run(old, new).output
    assert ("\n      trigger rules (validate_orders succeeded and valid_orders exists) -> "
            "(validate_orders succeeded or valid_orders exists)\n") in text, text
    assert "\n      trigger rules always -> orders exists\n" in text, text
    assert '"type"' not in text


def test_text_of_a_renamed_dependency(tmp_path):
    old, new = copy("data-pipeline", tmp_path / "old"), copy("data-pipeline", tmp_path / "new")
    edit(new, DP_TASKS, 'id="process_data"', 'id="clean_data"')
    edit(new, DP_TASKS, 'dependencies=["process_data"]', 'dependencies=["clean_data"]')
    text = run(old, new).output
    assert "\n  ~ process_data -> clean_data  renamed (same function)\n      code " in text
    assert "\n  ~ generate_report\n" in text
    assert "\n      dependencies process_data -> clean_data (renamed)\n" in text
    assert "edges:" not in text


def test_payload_text(built_pipeline):
    result = run("--payload", built_pipeline, built_pipeline)
    assert result.exit_code == 0
    assert "payload files:\n  = 5 file(s) the same (compared by paths)\n" in result.output


def test_help_names_the_contract():
    result = CliRunner().invoke(cli, ["diff", "--help"])
    assert result.exit_code == 0
    assert all(o in result.output for o in ("--exit-zero", "--json", "--payload"))
