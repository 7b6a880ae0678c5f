"""``validate --format sarif``: real reports as SARIF 2.1.0, checked against the OASIS schema
(tests/fixtures/sarif), with repository-relative locations and stable fingerprints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from cloacina_build import __about__, codes
from cloacina_build.cli.main import cli
from cloacina_build.findings import Finding, error, warning
from cloacina_build.ops.sarif import (
    FINGERPRINT,
    SARIF_SCHEMA,
    Anchor,
    locate,
    normalise,
    project_file,
    sarif_report,
    split_line,
    validate_for_sarif,
)
from cloacina_build.ops.validate import ValidationReport, validate_path

from . import hostile as h
from .conftest import EXAMPLES, ROOT
from .workflows import write_project

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif" /
                     "sarif-schema-2.1.0.json").read_text("utf-8"))
VALIDATOR = validator_for(SCHEMA)(SCHEMA)

BROKEN = '''\
import cloaca


@cloaca.task(id="extract", dependencies=[])
def extract(context):
    return context


@cloaca.task(id="load", dependencies=["extrct"],
             trigger_rules=cloaca.task_success("nope"))
def load(context):
    return context


@cloaca.task(id="a", dependencies=["b"])
def a(context):
    return context


@cloaca.task(id="b", dependencies=["a"])
def b(context):
    return context


@cloaca.task(id="a", dependencies=[])
def a_again(context):
    return context
'''


def check_sarif(log: dict, *, private: Path | None = None) -> dict:
    """Valid against the SARIF 2.1.0 schema, plus what the schema's formats say and
    jsonschema cannot check without extra packages: absolute https links, relative URIs
    that never climb out or name ``private`` (a temporary directory).  Returns the run."""
    errors = sorted(VALIDATOR.iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert log["$schema"] == SARIF_SCHEMA == SCHEMA["id"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    for link in [driver["informationUri"]] + [r["helpUri"] for r in driver["rules"]]:
        assert urlsplit(link).scheme == "https" and urlsplit(link).netloc, link
    used = [r["ruleId"] for r in run["results"]]
    assert [r["id"] for r in driver["rules"]] == sorted(set(used))
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        uri = location["uri"]
        assert location["uriBaseId"] == "%SRCROOT%"
        assert not urlsplit(uri).scheme and not uri.startswith("/"), uri
        assert ".." not in unquote(uri).split("/"), uri
        if private is not None:
            assert str(private) not in json.dumps(result), result
    return run


def results_by_rule(run: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for result in run["results"]:
        out.setdefault(result["ruleId"], []).append(result)
    return out


def uri_and_line(result: dict) -> tuple[str, int | None]:
    physical = result["locations"][0]["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical.get("region", {}).get("startLine")


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_schema_is_the_oasis_schema():
    validator_for(SCHEMA).check_schema(SCHEMA)
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]
    assert not VALIDATOR.is_valid({"version": "2.1.0", "runs": [{"results": []}]})  # no tool


# ------------------------------------------------------------------ projects


def test_a_broken_project_in_a_git_repository(tmp_path, monkeypatch):
    repo = git_repo(tmp_path / "repo")
    project = write_project(repo / "flows" / "nightly", BROKEN)
    monkeypatch.chdir(tmp_path)  # the working directory does not matter inside a repo
    run = check_sarif(sarif_report(validate_path(project)), private=tmp_path)
    rules = results_by_rule(run)
    assert set(rules) == {"graph-duplicate-id", "graph-unknown-dependency",
                          "graph-unknown-rule-task", "graph-cycle"}
    tasks = "flows/nightly/workflow/wf_test/tasks.py"
    assert uri_and_line(rules["graph-unknown-dependency"][0]) == (tasks, 9)
    assert uri_and_line(rules["graph-unknown-rule-task"][0]) == (tasks, 9)
    assert uri_and_line(rules["graph-cycle"][0]) == (tasks, 15)
    assert uri_and_line(rules["graph-duplicate-id"][0]) == (tasks, 25)
    dup = rules["graph-duplicate-id"][0]
    assert dup["level"] == "error"
    assert dup["message"]["text"] == ("task id 'a' is also defined at "
                                      "workflow/wf_test/tasks.py:15")
    assert run["properties"] == {"kind": "project", "valid": False,
                                 "package": {"name": "wf-test", "version": "1.0.0"}}
    assert "git work tree" in run["originalUriBaseIds"]["%SRCROOT%"]["description"]["text"]
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["id"] == "graph-cycle" and rule["name"] == "GraphCycle"
    assert rule["shortDescription"]["text"] == codes.info("graph-cycle").summary
    assert rule["helpUri"].endswith("/docs/format.md#code-graph-cycle")
    assert rule["defaultConfiguration"] == {"level": "error"}


def test_fingerprints_hold_across_runs_and_a_blank_line_above(tmp_path):
    project = write_project(tmp_path / "p", BROKEN)
    first = check_sarif(sarif_report(validate_path(project)))
    again = check_sarif(sarif_report(validate_path(project)))
    assert first == again
    tasks = project / "workflow" / "wf_test" / "tasks.py"
    tasks.write_text("\n" + tasks.read_text())
    moved = check_sarif(sarif_report(validate_path(project)))
    lines = [uri_and_line(r)[1] for r in first["results"]]
    assert [uri_and_line(r)[1] for r in moved["results"]] == [n + 1 for n in lines]
    prints = [r["partialFingerprints"] for r in first["results"]]
    assert [r["partialFingerprints"] for r in moved["results"]] == prints
    assert len({p[FINGERPRINT] for p in prints}) == len(prints)
    assert all(re.fullmatch(r"[0-9a-f]{32}:1", p[FINGERPRINT]) for p in prints)
    assert "primaryLocationLineHash" not in prints[0]  # upload-sarif computes that one


def test_a_different_problem_gets_a_different_fingerprint(tmp_path):
    project = write_project(tmp_path / "p", BROKEN)
    before = results_by_rule(check_sarif(sarif_report(validate_path(project))))
    tasks = project / "workflow" / "wf_test" / "tasks.py"
    tasks.write_text(tasks.read_text().replace('"extrct"', '"extratc"'))
    after = results_by_rule(check_sarif(sarif_report(validate_path(project))))
    changed = "graph-unknown-dependency"
    assert after[changed][0]["partialFingerprints"] != before[changed][0]["partialFingerprints"]
    assert after["graph-cycle"][0]["partialFingerprints"] == \
        before["graph-cycle"][0]["partialFingerprints"]


def test_config_findings_sit_on_the_config_file_without_a_line(tmp_path, monkeypatch):
    project = write_project(tmp_path / "work" / "p", "import cloaca\n", version="one")
    monkeypatch.chdir(tmp_path / "work")  # no git: relative to the working directory
    run = check_sarif(sarif_report(validate_path(project)), private=tmp_path)
    (result,) = run["results"]
    assert result["ruleId"] == "config-version"
    assert uri_and_line(result) == ("p/package.toml", None)
    assert "working directory" in \
        run["originalUriBaseIds"]["%SRCROOT%"]["description"]["text"]


def test_a_finding_without_a_location_is_put_on_the_config_file(tmp_path):
    project = write_project(tmp_path / "p", "import cloaca\n")
    report = validate_path(project)
    assert [(f.code, f.location) for f in report.findings] == [("graph-empty", None)]
    run = check_sarif(sarif_report(report, Anchor("p", "p/package.toml", "project")))
    assert uri_and_line(run["results"][0]) == ("p/package.toml", None)


def test_a_valid_project_is_valid_sarif_with_no_results(tmp_path):
    project = shutil.copytree(EXAMPLES / "data-pipeline", tmp_path / "dp",
                              ignore=shutil.ignore_patterns("dist", "__pycache__"))
    run = check_sarif(sarif_report(validate_path(project)))
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["properties"]["valid"] is True


def test_outside_the_working_directory_and_any_repository_uris_are_project_relative(
        tmp_path, monkeypatch):
    project = write_project(tmp_path / "p", BROKEN)
    monkeypatch.chdir(git_repo(tmp_path / "elsewhere"))
    anchor = locate(validate_path(project))
    assert anchor == Anchor("", "package.toml", "project")
    run = check_sarif(sarif_report(validate_path(project), anchor), private=tmp_path)
    assert {uri_and_line(r)[0] for r in run["results"]} == {"workflow/wf_test/tasks.py"}


def test_uris_are_percent_encoded_and_symlinks_resolved(tmp_path):
    repo = git_repo(tmp_path / "repo")
    project = write_project(repo / "my flows" / "p#1", BROKEN)
    link = tmp_path / "link"
    link.symlink_to(project)
    run = check_sarif(sarif_report(validate_path(link)), private=tmp_path)
    uri = uri_and_line(run["results"][0])[0]
    assert uri == "my%20flows/p%231/workflow/wf_test/tasks.py"
    assert (repo / unquote(uri)).is_file()


# ------------------------------------------------------------------ packages


def test_a_broken_package(pipeline_pkg, tmp_path, monkeypatch):
    members = h.read_members(pipeline_pkg)
    members = h.edit_manifest(members, lambda m: m["package"].__setitem__("version", "9.9.9"))
    members = h.replace(members, "package.toml", h.get(members, "package.toml") + b"\n")
    h.write_members(pipeline_pkg, members)
    monkeypatch.chdir(tmp_path)
    run = check_sarif(sarif_report(validate_path(pipeline_pkg)), private=tmp_path)
    rules = results_by_rule(run)
    assert {"metadata-mismatch", "payload-identity", "digest-mismatch",
            "digest-size-mismatch"} <= set(rules)
    for result in run["results"]:
        assert uri_and_line(result) == (pipeline_pkg.name, None)
        (logical,) = result["locations"][0]["logicalLocations"]
        assert result["message"]["text"].startswith(logical["fullyQualifiedName"] + ": ")
    (digest,) = rules["digest-mismatch"]
    assert digest["locations"][0]["logicalLocations"] == [
        {"name": "package.toml", "fullyQualifiedName": "package.toml"}]
    assert run["properties"]["kind"] == "package"


def test_package_fingerprints_ignore_digests_and_sizes(pipeline_pkg, tmp_path):
    def tampered(extra: bytes) -> dict:
        members = h.read_members(pipeline_pkg)
        members = h.replace(members, "package.toml", h.get(members, "package.toml") + extra)
        out = tmp_path / pipeline_pkg.name
        h.write_members(out, members)
        run = check_sarif(sarif_report(validate_path(out), Anchor("", out.name, "project")))
        return {r["ruleId"]: r["partialFingerprints"] for r in run["results"]}

    one, other = tampered(b"\n"), tampered(b"\n# a longer change\n")
    assert set(one) == {"digest-mismatch", "digest-size-mismatch"}
    assert one == other


def test_a_package_findings_fingerprint_ignores_its_members_line_only():
    """A package's finding names a member, with a line for a file inside it; the
    fingerprint holds when that line moves, and tells members (and non-lines) apart."""
    def fp(location: str) -> str:
        report = ValidationReport("x.cloacina", "package",
                                  [error("source-syntax", "invalid syntax", location)])
        run = sarif_report(report, Anchor("", "x.cloacina", "package directory"))
        return run["runs"][0]["results"][0]["partialFingerprints"][FINGERPRINT]

    assert fp("workflow/t.py:12") == fp("workflow/t.py:40") != fp("workflow/u.py:12")
    assert fp("workflow/t.py:\uff11") != fp("workflow/t.py:\uff12")  # fullwidth: not a line
    assert split_line("a:b:7") == ("a:b", 7) and split_line(":7") == (":7", None)


def test_a_valid_engine_archive(tmp_path):
    archive = ROOT / "tests" / "fixtures" / "engine" / "python-workflow.cloacina"
    run = check_sarif(sarif_report(validate_path(archive)))
    assert run["properties"]["kind"] == "engine" and run["properties"]["valid"] is True


# ------------------------------------------------------------------ rules and pieces


def test_every_registered_code_makes_a_valid_rule_linked_to_its_row():
    table = (ROOT / "docs" / "format.md").read_text("utf-8")
    findings = [Finding(code, info.severity, f"{code} happened", "workflow/x.py:3")
                for code, info in codes.REGISTRY.items()]
    report = ValidationReport("p", "project", findings)
    run = check_sarif(sarif_report(report, Anchor("", "package.toml", "project")))
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == len(codes.REGISTRY)
    for rule in rules:
        fragment = urlsplit(rule["helpUri"]).fragment
        assert f'<a id="{fragment}"></a>`{rule["id"]}`' in table
        info = codes.info(rule["id"])
        assert rule["fullDescription"]["text"].lower().startswith(info.summary.lower())
        page = info.doc.partition("#")[0]
        assert (f"[docs/{page}]" in rule["help"]["markdown"]) == (page != "format.md")


def test_levels_follow_the_severity():
    report = ValidationReport("p", "project", [error("graph-cycle", "x", "a.py:1"),
                                               warning("host-python", "y", "a.py:2")])
    run = check_sarif(sarif_report(report, Anchor("", "package.toml", "project")))
    assert [r["level"] for r in run["results"]] == ["error", "warning"]
    assert {r["id"]: r["defaultConfiguration"]["level"]
            for r in run["tool"]["driver"]["rules"]} == {"graph-cycle": "error",
                                                         "host-python": "warning"}


def test_identical_findings_in_one_file_are_numbered():
    same = [error("task-argument", "retry_attempts must be from 0 to 1000, not -1",
                  f"w/t.py:{n}") for n in (3, 9)]
    run = check_sarif(sarif_report(ValidationReport("p", "project", same),
                                   Anchor("", "package.toml", "project")))
    prints = [r["partialFingerprints"][FINGERPRINT] for r in run["results"]]
    assert prints[0].split(":")[0] == prints[1].split(":")[0]
    assert [p.split(":")[1] for p in prints] == ["1", "2"]


def test_normalise_keeps_quoted_names_and_drops_what_moves():
    assert normalise("task 'step_2' at tasks.py:14, sha256 is 25e6d81e92fce8ba..., 12 "
                     "bytes, the engine's rule") == \
        "task 'step_2' at tasks.py:<n>, sha256 is <hex>, <n> bytes, the engine's rule"
    assert normalise("'a1' and 'a2'") != normalise("'a1' and 'a3'")


@pytest.mark.parametrize(("location", "expected"), [
    ("workflow/pkg/tasks.py:12", ("workflow/pkg/tasks.py", 12)),
    ("package.toml", ("package.toml", None)),
    ("src/lib.rs:0", ("src/lib.rs", None)),
    ("./a.py:3", ("a.py", 3)),
    ("a:b.py:7", None),
    ("/etc/passwd:1", None),
    ("../outside.py:2", None),
    ("C:\\x.py:1", None),
    ("", None),
    (None, None),
])
def test_project_file(location, expected):
    assert project_file(location) == expected


@given(st.text(max_size=40))
def test_no_location_makes_a_uri_outside_the_project(location):
    report = ValidationReport("p", "project", [error("graph-cycle", "x", location or None)])
    run = check_sarif(sarif_report(report, Anchor("sub", "sub/package.toml", "project")))
    uri = unquote(uri_and_line(run["results"][0])[0])
    assert uri.startswith("sub/") and ".." not in uri.split("/")


def test_the_project_url_is_pyprojects_homepage():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["urls"]["Homepage"] == __about__.__url__


# ------------------------------------------------------------------ the command line


def test_cli_sarif_to_a_file_as_the_generated_ci_runs_it(tmp_path):
    """``cloacinactl validate . --format sarif -o cloacina.sarif`` in a real process, in
    the project's own checkout: the interface the project templates' CI uses."""
    repo = git_repo(tmp_path / "repo")
    write_project(repo, BROKEN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "cloacina_build", "validate", ".",
                           "--format", "sarif", "-o", "cloacina.sarif"], cwd=repo,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    # the CI log says what is wrong, not only that something is (code scanning may be off)
    *findings, summary = proc.stdout.splitlines()
    assert summary == ("invalid: wf-test 1.0.0 (project): 4 error(s), 0 warning(s); "
                       "wrote cloacina.sarif")
    assert len(findings) == 4 and all(f.startswith("error[") for f in findings), findings
    assert all(" workflow/wf_test/tasks.py:" in f for f in findings), findings
    assert proc.stderr == ""
    run = check_sarif(json.loads((repo / "cloacina.sarif").read_text("utf-8")),
                      private=tmp_path)
    assert {uri_and_line(r)[0] for r in run["results"]} == {"workflow/wf_test/tasks.py"}
    assert sorted(p.name for p in repo.iterdir()) == [
        ".git", "cloacina.sarif", "package.toml", "workflow"]  # no temporary left


def test_cli_sarif_on_standard_output_and_exit_codes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = shutil.copytree(EXAMPLES / "data-pipeline", tmp_path / "good",
                           ignore=shutil.ignore_patterns("dist", "__pycache__"))
    result = run_cli("validate", str(good), "--format", "sarif")
    assert result.exit_code == 0
    assert check_sarif(json.loads(result.stdout))["results"] == []
    bad = write_project(tmp_path / "bad", BROKEN)
    result = run_cli("validate", str(bad), "--format", "sarif")
    assert result.exit_code == 1
    assert len(check_sarif(json.loads(result.stdout))["results"]) == 4


@pytest.mark.parametrize("broken", [False, True])
def test_format_json_is_exactly_json(tmp_path, broken):
    project = write_project(tmp_path / "p", BROKEN) if broken else shutil.copytree(
        EXAMPLES / "order-etl", tmp_path / "p", ignore=shutil.ignore_patterns("dist"))
    old, new = run_cli("validate", "--json", str(project)), \
        run_cli("validate", "--format", "json", str(project))
    assert (new.exit_code, new.stdout, new.stderr) == (old.exit_code, old.stdout, old.stderr)
    assert old.exit_code == (1 if broken else 0) and json.loads(old.stdout)["valid"] != broken
    both = run_cli("validate", "--json", "--format", "json", str(project))
    assert (both.exit_code, both.stdout) == (old.exit_code, old.stdout)


def test_format_json_errors_are_json_too(tmp_path):
    old = run_cli("validate", "--json", str(tmp_path / "nothing.cloacina"))
    new = run_cli("validate", "--format", "json", str(tmp_path / "nothing.cloacina"))
    assert (new.exit_code, new.stdout) == (old.exit_code, old.stdout)
    assert new.exit_code == 2 and json.loads(new.stdout)["ok"] is False


def test_json_and_another_format_is_a_usage_error(tmp_path):
    result = run_cli("validate", "--json", "--format", "sarif", str(tmp_path))
    assert result.exit_code == 2
    error_ = json.loads(result.stdout)["error"]
    assert error_["code"] == "usage" and "--json and --format sarif disagree" in \
        error_["message"]
    assert "cloacinactl validate --help" in error_["hint"]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_output_file_for_every_format(tmp_path, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    project = write_project(tmp_path / "p", BROKEN)
    out = tmp_path / "reports" / f"report.{fmt}"
    out.parent.mkdir()
    out.write_text("an older report that is replaced whole")
    result = run_cli("validate", str(project), "--format", fmt, "-o", str(out))
    assert result.exit_code == 1
    text = run_cli("validate", str(project)).stdout  # the terminal shows what it shows
    assert result.stdout == text.replace("0 warning(s)\n", "0 warning(s); wrote "
                                         "reports/report." + fmt + "\n")
    assert result.stdout.count("\nerror[") == 3
    quiet = run_cli("validate", str(project), "--format", fmt, "-o", str(out), "-q").stdout
    assert quiet == result.stdout  # -q leaves out warnings only: there are none
    shown = run_cli("validate", str(project), "--format", fmt).stdout
    if fmt == "text":
        assert out.read_text("utf-8") == shown
    else:
        assert json.loads(out.read_text("utf-8")) == json.loads(shown)
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_output_file_and_quiet_leave_out_warnings_on_the_terminal(tmp_path, monkeypatch):
    from cloacina_build.build.builder import build_package

    monkeypatch.chdir(tmp_path)
    archive = build_package(EXAMPLES / "data-pipeline", tmp_path / "e.cloacina",
                            format="engine").path
    with open(archive, "ab") as fh:
        fh.write(b"garbage!")
    said = run_cli("validate", "e.cloacina", "--format", "sarif", "-o", "e.sarif")
    assert said.exit_code == 0
    assert said.stdout.startswith("warning[engine-trailing-stream] ")
    assert said.stdout.endswith("\nvalid: data-pipeline 1.0.0 (engine) with 1 warning(s); "
                                "wrote e.sarif\n")
    quiet = run_cli("validate", "e.cloacina", "--format", "sarif", "-o", "e.sarif", "-q")
    assert quiet.stdout == "valid: data-pipeline 1.0.0 (engine) with 1 warning(s); wrote " \
                           "e.sarif\n"
    assert len(check_sarif(json.loads(Path("e.sarif").read_text("utf-8")))["results"]) == 1


def test_output_that_cannot_be_written_leaves_the_old_file(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: block the directory with a file instead
        blocked = tmp_path / "file"
        blocked.write_text("x")
        out = blocked / "report.sarif"
    else:  # pragma: no cover - the suite runs as root here
        (tmp_path / "ro").mkdir(mode=0o555)
        out = tmp_path / "ro" / "report.sarif"
    project = write_project(tmp_path / "p", BROKEN)
    result = run_cli("validate", str(project), "--format", "sarif", "-o", str(out))
    assert result.exit_code == 2
    assert result.stdout == "" and result.stderr.startswith(f"error: cannot write {out}")
    assert not out.exists()


def test_output_never_replaces_the_package_validated(pipeline_pkg):
    before = pipeline_pkg.read_bytes()
    result = run_cli("validate", str(pipeline_pkg), "--format", "sarif",
                     "-o", str(pipeline_pkg))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {pipeline_pkg} is the input itself")
    assert pipeline_pkg.read_bytes() == before
    as_json = run_cli("validate", str(pipeline_pkg), "--json", "-o", str(pipeline_pkg))
    assert json.loads(as_json.stdout)["error"]["code"] == "output-is-input"


def test_a_project_too_broken_to_read_is_still_a_sarif_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = write_project(tmp_path / "p", BROKEN)
    (project / "package.toml").write_text("[package\n")
    result = run_cli("validate", "p", "--format", "sarif", "-o", "x.sarif")
    assert result.exit_code == 1
    assert result.stderr == ""  # the error is the report's one finding, said once
    finding, summary = result.stdout.splitlines()
    assert finding.startswith("error[config-syntax] package.toml: invalid TOML")
    assert summary == "invalid: p (project): 1 error(s), 0 warning(s); wrote x.sarif"
    on_stdout = run_cli("validate", "p", "--format", "sarif")  # SARIF on standard output
    assert on_stdout.stderr.startswith("error: package.toml: invalid TOML")
    run = check_sarif(json.loads((tmp_path / "x.sarif").read_text("utf-8")))
    (only,) = run["results"]
    assert only["ruleId"] == "config-syntax"
    assert uri_and_line(only) == ("p/package.toml", None)
    assert "invalid TOML" in only["message"]["text"]
    for fmt in ("text", "json"):  # the other formats report the error as before
        other = run_cli("validate", "p", "--format", fmt)
        assert other.exit_code == 1 and "invalid: " not in other.stdout


def test_the_library_turns_an_unreadable_project_into_a_report_and_raises_usage_errors(
        tmp_path):
    """The policy lives in the library: what the CLI's SARIF path does, a library user
    gets from validate_for_sarif."""
    from cloacina_build.errors import UsageError

    project = write_project(tmp_path / "p", BROKEN)
    (project / "package.toml").write_text("[package\n")
    report, failure = validate_for_sarif(project)
    assert failure is not None and failure.code == "config-syntax"
    assert not report.ok and [f.code for f in report.findings] == ["config-syntax"]
    check_sarif(sarif_report(report))
    good, none = validate_for_sarif(EXAMPLES / "data-pipeline")
    assert none is None and good.ok
    with pytest.raises(UsageError):
        validate_for_sarif(tmp_path / "missing.cloacina")
