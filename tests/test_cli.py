"""The command line: golden output for people, JSON for machines, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.cli.main import cli

from .conftest import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
# Values that legitimately vary with the build environment (hatchling's version lands in
# the wheel, so the payload digest and sizes move); everything else is pinned.
VOLATILE = [
    (re.compile(r"(payload sha256: +|digest: +|digest )[0-9a-f]{64}"), r"\1<sha256>"),
    (re.compile(r"\d+(\.\d+)? (B|KiB|MiB)\b"), "<size>"),
    (re.compile(r"/\S+/(\S+\.cloacina)"), r"<dir>/\1"),
]


def normalise(text: str) -> str:
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    text = normalise(text)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"output differs from {path}; rerun with UPDATE_GOLDEN=1"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def outside_git(tmp_path_factory) -> Path:
    """The examples copied outside any git checkout, so provenance is stable."""
    root = tmp_path_factory.mktemp("nogit")
    for name in ("data-pipeline", "order-etl"):
        shutil.copytree(EXAMPLES / name, root / name,
                        ignore=shutil.ignore_patterns("dist", "__pycache__"))
    return root


@pytest.fixture(scope="module")
def packaged(outside_git) -> dict[str, Path]:
    os.environ["GIT_CEILING_DIRECTORIES"] = str(outside_git.parent)
    try:
        out = {}
        for name in ("data-pipeline", "order-etl"):
            result = run("package", str(outside_git / name))
            assert result.exit_code == 0, result.output
            out[name] = next((outside_git / name / "dist").glob("*.cloacina"))
            check_golden(f"package-{name}.txt", result.output)
        return out
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]


@pytest.mark.parametrize("name", ["data-pipeline", "order-etl"])
def test_inspect_golden(packaged, name):
    result = run("inspect", str(packaged[name]))
    assert result.exit_code == 0
    check_golden(f"inspect-{name}.txt", result.output)


def test_inspect_json_contract(packaged):
    result = run("inspect", "--json", str(packaged["data-pipeline"]))
    info = json.loads(result.output)
    assert info["format"] == "cloacina"  # "engine" for the engine's bzip2 source archives
    assert info["package"]["name"] == "data-pipeline" and info["package"]["version"] == "1.0.0"
    assert info["workflow"]["name"] == "data_pipeline"
    assert re.fullmatch(r"[0-9a-f]{64}", info["workflow"]["fingerprint"])
    assert [(t["id"], t["dependencies"]) for t in info["tasks"]] == [
        ("collect_data", []), ("generate_report", ["process_data"]),
        ("process_data", ["collect_data"])]
    assert all(t["function"].startswith("data_pipeline.tasks:") for t in info["tasks"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", t["fingerprint"]) for t in info["tasks"])
    assert info["payload"]["kind"] == "wheel"
    assert info["payload"]["filename"] == "data_pipeline-1.0.0-py3-none-any.whl"
    assert re.fullmatch(r"[0-9a-f]{64}", info["payload"]["sha256"])
    assert info["signatures"] == []
    assert info["workflow"]["levels"] == [["collect_data"], ["process_data"],
                                          ["generate_report"]]


def test_validate_ok(packaged):
    result = run("validate", str(packaged["order-etl"]))
    assert result.exit_code == 0
    assert result.output == "valid: order-etl 0.3.0 (package)\n"
    data = json.loads(run("validate", "--json", str(packaged["order-etl"])).output)
    assert data["valid"] is True and data["findings"] == [] and data["kind"] == "package"


def test_validate_project_directory(outside_git):
    result = run("validate", str(outside_git / "order-etl"))
    assert result.exit_code == 0
    assert result.output == "valid: order-etl 0.3.0 (project)\n"


def test_validate_broken_project_lists_every_problem(tmp_path):
    project = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "data-pipeline", project,
                    ignore=shutil.ignore_patterns("dist"))
    tasks = project / "workflow/data_pipeline/tasks.py"
    text = tasks.read_text().replace('dependencies=["process_data"]',
                                     'dependencies=["proces_data"]')
    text = text.replace('id="collect_data", dependencies=[], retry_attempts=2',
                        'id="collect_data", dependencies=[], retry_attempts="two"')
    tasks.write_text(text)
    result = run("validate", str(project))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error[task-argument] workflow/data_pipeline/tasks.py:10: retry_attempts must be an "
        "integer from 0 to 1000, not 'two'",
        "invalid: data-pipeline 1.0.0 (project): 1 error(s), 0 warning(s)",
    ]
    tasks.write_text(text.replace('retry_attempts="two"', "retry_attempts=2"))
    result = run("validate", "--json", str(project))
    data = json.loads(result.output)
    assert result.exit_code == 1
    assert [(f["code"], f["location"]) for f in data["findings"]] == [
        ("graph-unknown-dependency", "workflow/data_pipeline/tasks.py:35")]
    assert "did you mean 'process_data'" in data["findings"][0]["message"]


def test_package_json(outside_git, tmp_path):
    result = run("package", str(outside_git / "data-pipeline"), "-o",
                 str(tmp_path / "p.cloacina"), "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["ok"] is True
    assert data["path"] == str(tmp_path / "p.cloacina")
    assert data["workflow"]["tasks"] == ["collect_data", "generate_report", "process_data"]


def test_package_config_error_exit_1(tmp_path):
    project = tmp_path / "cfg"
    shutil.copytree(EXAMPLES / "data-pipeline", project, ignore=shutil.ignore_patterns("dist"))
    with open(project / "package.toml", "a") as fh:
        fh.write('package_type = "python"\n')
    result = CliRunner().invoke(cli, ["package", str(project)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "error: package.toml has configuration errors"
    assert "config-package-type" in result.output
    assert not (project / "dist").exists()


@pytest.mark.parametrize("args, message", [
    (["inspect", "/no/such/file.cloacina"], "error: no such file: /no/such/file.cloacina"),
    (["validate", "/no/such/file.cloacina"], "error: no such file: /no/such/file.cloacina"),
    (["package", "/no/such/dir"], "error: no such directory: /no/such/dir"),
])
def test_usage_errors_exit_2(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == message
    assert "Traceback" not in result.output


def test_not_a_package_exit_1(tmp_path):
    bogus = tmp_path / "x.cloacina"
    bogus.write_bytes(b"PK\x03\x04 this is a zip, not a package")
    result = CliRunner().invoke(cli, ["inspect", str(bogus)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "not a .cloacina package" in result.output
    result = CliRunner().invoke(cli, ["inspect", "--json", str(bogus)])
    assert json.loads(result.output)["error"]["code"] == "archive-not-zstd"


def test_not_a_project_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["package", str(tmp_path)])
    assert result.exit_code == 2
    assert "no package.toml, pyproject.toml or Cargo.toml" in result.output


def test_console_script_and_module_entry_points(packaged):
    exe = Path(sys.executable).with_name("cloacinactl")
    for cmd in ([str(exe)], [sys.executable, "-m", "cloacina_build"]):
        proc = subprocess.run(cmd + ["inspect", "--json", str(packaged["data-pipeline"])],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["package"]["name"] == "data-pipeline"
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert re.fullmatch(r"cloacinactl, version \d+\.\d+\.\d+\n", proc.stdout)


def test_ctrl_c_exits_130_with_an_error_line(monkeypatch, capsys):
    import importlib

    cli_module = importlib.import_module("cloacina_build.cli.main")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "cli", interrupted)
    with pytest.raises(SystemExit) as info:
        cli_module.main()
    assert info.value.code == 130
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: interrupted" and err[1].startswith("hint: ")


def test_ctrl_c_inside_a_command_exits_130_not_clicks_abort(monkeypatch, pipeline_project,
                                                            tmp_path):
    """click turns a KeyboardInterrupt into "Aborted!" and exit 1 unless the command
    handles it first; and nothing may be left behind."""
    from cloacina_build.build import builder

    def interrupted_build(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(builder, "_build", interrupted_build)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["package", str(pipeline_project), "-o", f"{out}/"])
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[0] == "error: interrupted"
    assert "Aborted" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_every_json_report_says_ok_as_its_exit_status_does(packaged, built_etl, tmp_path):
    """Found by a new user: push, pull, sign … said "ok" and inspect, validate, verify and
    run did not, so a script testing .ok misread their successes."""
    pkg = next(iter(packaged.values()))
    broken = tmp_path / "broken.cloacina"
    broken.write_bytes(pkg.read_bytes()[:-40])
    cases = [("inspect", str(pkg)), ("validate", str(pkg)), ("validate", str(broken)),
             ("run", str(pkg)), ("diff", str(pkg), str(pkg)), ("diff", str(pkg), str(built_etl))]
    public = tmp_path / "keys" / "ci.pub"
    assert run("key", "generate", "ci", "--out", str(public.parent)).exit_code == 0
    cases += [("new", "--list"), ("key", "show", str(public))]
    for args in cases:
        result = run(*args, "--json")
        data = json.loads(result.output)
        assert data["ok"] is (result.exit_code == 0), (args, result.exit_code)
    assert {run(*a, "--json").exit_code for a in cases} == {0, 1}  # both kinds were seen
