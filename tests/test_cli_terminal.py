"""What a person sees at a terminal, with real commands on real pseudo-terminals: the
progress line (only at a terminal, not under -q, erased when done or on Ctrl-C), -v's
steps, and colour (only at a terminal, never under NO_COLOR or TERM=dumb, never inside a
package's strings)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.build.builder import build_package
from cloacina_build.cli.main import cli
from cloacina_build.project.scaffold import create_project

from .conftest import EXAMPLES
from .test_interrupts import slow_project
from .tty import CLEAR, run

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED_ERROR = "\x1b[31m\x1b[1merror:\x1b[0m"
GREEN_VALID = "\x1b[32m\x1b[1mvalid:\x1b[0m"
BLOB = 8 << 20


@pytest.fixture(scope="module")
def big_pkg(tmp_path_factory) -> Path:
    """The data-pipeline example with 8 MiB of random data in its package."""
    root = tmp_path_factory.mktemp("big")
    project = root / "data-pipeline"
    shutil.copytree(EXAMPLES / "data-pipeline", project,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    (project / "workflow" / "data_pipeline" / "blob.bin").write_bytes(os.urandom(BLOB))
    return build_package(project, root / "big.cloacina").path


def test_validate_at_a_terminal_shows_the_bytes_then_erases_the_line(big_pkg):
    ran = run(["validate", str(big_pkg)])
    assert ran.code == 0
    assert "reading the package... 0 B of 8.0 MiB (0%)" in ran.err
    assert "checking the payload..." in ran.err
    assert ran.err.startswith(CLEAR) and ran.err.endswith(CLEAR)  # nothing stays
    assert "\n" not in ran.err
    assert ran.out == f"{GREEN_VALID} data-pipeline 1.0.0 (package)\n"


def test_piped_there_is_no_progress_and_no_colour(big_pkg):
    ran = run(["validate", str(big_pkg)], out_tty=False, err_tty=False)
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == "valid: data-pipeline 1.0.0 (package)\n"
    ran = run(["validate", str(big_pkg)], out_tty=True, err_tty=False)
    assert ran.err == "" and ran.out.startswith(GREEN_VALID)  # each stream on its own


def test_quiet_at_a_terminal_shows_no_progress(big_pkg):
    ran = run(["validate", "-q", str(big_pkg)])
    assert (ran.code, ran.err) == (0, "")
    assert ran.out.startswith(GREEN_VALID)


def test_quick_work_prints_nothing_before_the_delay(big_pkg):
    ran = run(["validate", str(big_pkg)], env={"CLOACINA_PROGRESS_DELAY": "3600"})
    assert (ran.code, ran.err) == (0, "")


def test_no_color_and_a_dumb_terminal(big_pkg):
    ran = run(["validate", str(big_pkg)], env={"NO_COLOR": "1"})
    assert ran.out == "valid: data-pipeline 1.0.0 (package)\n"
    assert "reading the package..." in ran.err  # progress is not colour
    ran = run(["validate", str(big_pkg)], env={"NO_COLOR": ""})  # empty: not set
    assert ran.out.startswith(GREEN_VALID)
    ran = run(["validate", str(big_pkg)], env={"TERM": "dumb"})
    assert (ran.out, ran.err) == ("valid: data-pipeline 1.0.0 (package)\n", "")


def test_verbose_prints_each_step_with_its_duration_even_when_piped(big_pkg):
    ran = run(["validate", "-v", str(big_pkg)], out_tty=False, err_tty=False)
    assert ran.code == 0 and "\r" not in ran.err
    lines = ran.err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"phase: reading the package \([0-9.]+ m?s, 8\.0 MiB\)", lines[0])
    assert re.fullmatch(r"phase: checking the payload \([0-9.]+ m?s\)", lines[1])


def test_ls_and_diff_payload_show_their_passes(big_pkg):
    ran = run(["ls", "-v", str(big_pkg)], out_tty=False, err_tty=False)
    assert ran.code == 0
    assert re.fullmatch(r"phase: reading the package \([0-9.]+ m?s, 8\.0 MiB\)\n", ran.err)
    ran = run(["diff", "-v", "--payload", str(big_pkg), str(big_pkg)], out_tty=False,
              err_tty=False)
    assert ran.code == 0 and ran.err.count("phase: reading OLD (") == 1
    assert ran.err.count("phase: reading NEW (") == 1


def test_ls_colours_its_findings_like_every_other_command(big_pkg, tmp_path):
    from .hostile import read_members, write_members

    cut = write_members(tmp_path / "cut.cloacina", read_members(big_pkg), end=b"")
    ran = run(["ls", str(cut)])
    assert ran.code == 1
    assert "\x1b[31m\x1b[1merror[archive-truncated]\x1b[0m " in ran.err
    piped = run(["ls", str(cut)], err_tty=False)
    assert piped.err.startswith("error[archive-truncated] ")


def test_json_output_stays_clean_beside_the_progress_line(big_pkg):
    ran = run(["validate", "--json", str(big_pkg)])
    assert json.loads(ran.out)["valid"] is True
    assert "reading the package..." in ran.err and ran.err.endswith(CLEAR)


def test_a_build_at_a_terminal_shows_its_steps(tmp_path):
    ran = run(["package", str(EXAMPLES / "data-pipeline"), "-o", f"{tmp_path}/", "-v"])
    assert ran.code == 0 and ran.out.startswith("built ")
    for step in ("reading the project", "discovering tasks", "building the wheel",
                 "checking the wheel", "writing the package"):
        assert f"{CLEAR}{step}...  0.0 s" in ran.err  # the line, as the step begins
        assert re.search(rf"phase: {step} \([0-9.]+ m?s(, [0-9.]+ KiB)?\)\n", ran.err)
    assert not ran.err.splitlines()[-1].startswith("\r")


def test_errors_are_coloured_only_at_a_terminal(tmp_path):
    missing = str(tmp_path / "nope.cloacina")
    ran = run(["validate", missing])
    assert ran.code == 2 and ran.err.startswith(f"{RED_ERROR} no such file")
    assert "\n\x1b[32mhint:\x1b[0m pass the path" in ran.err
    for kind in ({"err_tty": False}, {"env": {"NO_COLOR": "1"}}):
        ran = run(["validate", missing], **kind)  # type: ignore[arg-type]
        assert ran.err.startswith("error: no such file") and "\x1b" not in ran.err


def test_a_package_cannot_colour_its_own_strings(tmp_path, built_pipeline):
    """A signer named like a finding is shown as it is: only the tool's words at the
    start of its own lines are coloured, and a package's control characters are escaped."""
    from cloacina_build.ops.signing import sign_package
    from cloacina_build.trust.keys import generate_pair, load_signing_key

    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    generate_pair("k", tmp_path / "keys")
    sign_package(pkg, load_signing_key(str(tmp_path / "keys" / "k.key")),
                 signer="error[fake-code] \x1b[32mverified")
    ran = run(["verify", str(pkg), "--trust", str(tmp_path / "keys")])
    assert ran.code == 0
    line = next(x for x in ran.out.splitlines() if "fake-code" in x)
    assert line.startswith("  error[fake-code] \\x1b[32mverified  key ")
    assert ran.out.splitlines()[-1].startswith("\x1b[32m\x1b[1mverified:\x1b[0m")


def test_ctrl_c_during_a_build_erases_the_line_and_exits_130(tmp_path):
    project = slow_project(tmp_path / "project", "hook")
    marker = tmp_path / "started"
    ran = run(["package", str(project), "-o", f"{tmp_path}/out/"],
              env={"CLOACINA_TEST_MARKER": str(marker), "TMPDIR": str(tmp_path)},
              interrupt_when=lambda err: marker.exists() and "building the wheel..." in err)
    assert ran.code == 130
    before, _, after = ran.err.rpartition(CLEAR)
    assert "building the wheel..." in before
    assert after == f"{RED_ERROR} interrupted\n\x1b[32mhint:\x1b[0m nothing was left " \
                    "half-written here; run the command again\n"
    assert not (tmp_path / "out").exists()


def test_run_quiet_drops_warnings_and_task_events(built_pipeline, tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    ran = run(["run", str(built_pipeline), *cache])
    assert ran.code == 0
    assert "\x1b[33m\x1b[1mwarning:\x1b[0m no --trust given" in ran.err
    assert "-> collect_data started" in ran.err
    ran = run(["run", "-q", str(built_pipeline), *cache])
    assert (ran.code, ran.err) == (0, "")
    assert "data_pipeline: completed" in ran.out


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_cargo_shows_its_own_progress_at_a_terminal_and_nothing_under_quiet(tmp_path):
    crate = create_project("tty-flow", template="rust", path=tmp_path / "tty-flow")
    ran = run(["package", str(crate), "-o", f"{tmp_path}/out/"])
    assert ran.code == 0, ran.err
    assert "cargo build..." in ran.err
    assert re.search(r"Compiling(\x1b\[0m)? tty-flow", ran.err)  # cargo's own words
    (crate / "src" / "lib.rs").touch()
    ran = run(["package", "-q", str(crate), "-o", f"{tmp_path}/out/"])
    assert (ran.code, ran.err) == (0, "")


def test_quiet_validate_leaves_out_warnings_but_counts_them(tmp_path):
    archive = build_package(EXAMPLES / "data-pipeline", tmp_path / "e.cloacina",
                            format="engine").path
    with open(archive, "ab") as fh:
        fh.write(b"garbage!")
    said = CliRunner().invoke(cli, ["validate", str(archive)]).output
    assert said.startswith("warning[engine-trailing-stream] ")
    quiet = CliRunner().invoke(cli, ["validate", "-q", str(archive)])
    assert (quiet.exit_code, quiet.output) == (
        0, "valid: data-pipeline 1.0.0 (engine) with 1 warning(s)\n")
    as_json = CliRunner().invoke(cli, ["validate", "-q", "--json", str(archive)]).output
    assert json.loads(as_json)["warnings"] == 1  # --json is whole whatever -q says


def test_verbose_marks_the_step_that_did_not_finish(pipeline_project):
    tasks = pipeline_project / "workflow" / "data_pipeline" / "tasks.py"
    tasks.write_text(tasks.read_text().replace('dependencies=["collect_data"]',
                                               'dependencies=["nope"]'))
    ran = run(["package", "-v", str(pipeline_project)], out_tty=False, err_tty=False)
    assert ran.code == 1
    lines = ran.err.splitlines()
    assert re.fullmatch(r"phase: reading the project \([0-9.]+ m?s\)", lines[0])
    assert re.fullmatch(r"phase: discovering tasks \([0-9.]+ m?s, did not finish\)", lines[1])
    assert lines[2].startswith("error: workflow 'data_pipeline' has problems")


def test_quiet_and_verbose_may_come_before_the_command(tmp_path, pipeline_project):
    """'cloacinactl -q validate' as 'cloacinactl validate -q' (as pip and git take their
    flags); the two together are a usage error wherever they stand."""
    archive = build_package(EXAMPLES / "data-pipeline", tmp_path / "e.cloacina",
                            format="engine").path
    with open(archive, "ab") as fh:
        fh.write(b"garbage!")
    quiet = CliRunner().invoke(cli, ["-q", "validate", str(archive)])
    assert (quiet.exit_code, quiet.output) == (
        0, "valid: data-pipeline 1.0.0 (engine) with 1 warning(s)\n")
    ran = run(["-v", "validate", str(pipeline_project)], out_tty=False, err_tty=False)
    assert ran.code == 0, ran.err
    assert re.match(r"phase: reading the project \([0-9.]+ m?s\)\n", ran.err), ran.err
    for args in (["-q", "validate", "-v"], ["-v", "-q", "validate"]):
        both = CliRunner().invoke(cli, [*args, str(archive)])
        assert both.exit_code == 2, (args, both.output)
        assert "-q/--quiet and -v/--verbose cannot be used together" in both.output
    assert "-q, --quiet" in CliRunner().invoke(cli, ["--help"]).output


def test_ls_and_diff_payload_show_the_bytes_they_read(big_pkg):
    """ls and diff --payload read whole packages: the same line as validate's, erased."""
    ran = run(["ls", str(big_pkg)])
    assert ran.code == 0
    assert "reading the package... 0 B of 8.0 MiB (0%)" in ran.err, ran.err
    assert ran.err.endswith(CLEAR) and "\n" not in ran.err
    ran = run(["diff", "--payload", str(big_pkg), str(big_pkg)])
    assert ran.code == 0
    assert "reading OLD... 0 B of 8.0 MiB (0%)" in ran.err, ran.err
    assert "reading NEW..." in ran.err and ran.err.endswith(CLEAR)
    ran = run(["ls", "-v", str(big_pkg)], out_tty=False, err_tty=False)
    assert re.fullmatch(r"phase: reading the package \([0-9.]+ m?s, 8\.0 MiB\)\n", ran.err)
    assert run(["ls", "-q", str(big_pkg)]).err == ""
