"""Errors a person can act on: one ``error:`` line (findings may follow), exactly one
``hint:`` line, exit 2 for usage and environment, 1 for a failed check; with ``--json`` one
object on standard output; never a traceback, never click's own ``Usage:`` block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.cli.main import cli
from cloacina_build.errors import CloacinaError, PackageError, UsageError


def invoke(args: list[str]):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, built_pipeline) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    data = built_pipeline.read_bytes()
    files = {"garbage": root / "garbage.cloacina", "truncated": root / "cut.cloacina",
             "empty": root / "empty.cloacina", "good": root / built_pipeline.name}
    files["garbage"].write_bytes(b"PK\x03\x04 not a package at all")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["empty"].write_bytes(b"")
    files["good"].write_bytes(data)
    return files


USAGE = [
    (["inspect", "--bogus", "x"], "no such option '--bogus'", "cloacinactl inspect --help"),
    (["inspect"], "missing argument 'FILE'", "cloacinactl inspect --help"),
    (["nope"], "no such command 'nope'", "cloacinactl --help"),
    (["validate", "--threshold", "0", "x"], "invalid value for '--threshold'",
     "cloacinactl validate --help"),
    (["inspect", "--trust"], "option '--trust' requires an argument",
     "cloacinactl inspect --help"),
    (["key", "generate", "k"], "missing option '--out'", "cloacinactl key generate --help"),
    (["key", "frob"], "no such command 'frob'", "cloacinactl key --help"),
]


@pytest.mark.parametrize("args, message, help_", USAGE)
def test_click_usage_errors_are_ours(args, message, help_):
    result = invoke(args)
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert err[0].startswith(f"error: {message}"), err
    what = "the commands" if args[-1] in ("nope", "frob") else "its arguments and options"
    assert err[1] == f"hint: run '{help_}' to see {what}"
    assert len(err) == 2 and "Usage:" not in result.output and result.stdout == ""


@pytest.mark.parametrize("args, message, help_", USAGE)
def test_click_usage_errors_with_json(args, message, help_):
    result = invoke([*args, "--json"] if args[-1] != "--trust" else ["inspect", "--json",
                                                                      "--trust"])
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["error"]["code"] == "usage"
    assert out["error"]["message"].startswith(message)
    assert f"'{help_}" in out["error"]["hint"]
    assert result.stderr == ""


def test_help_and_version_are_unchanged():
    result = invoke(["--help"])
    assert result.exit_code == 0 and result.stdout.startswith("Usage: cloacinactl")
    result = invoke(["inspect", "--help"])
    assert result.exit_code == 0 and "--trust" in result.stdout
    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("cloacinactl, version ")


def failing_commands(files: dict[str, Path], tmp: Path) -> list[tuple[list, int]]:
    good = files["good"]
    return [
        (["inspect", files["garbage"]], 1),
        (["inspect", files["truncated"]], 1),
        (["inspect", files["empty"]], 1),
        (["inspect", tmp / "missing.cloacina"], 2),
        (["run", files["truncated"]], 1),
        (["sign", good, "--key", tmp / "missing.key"], 2),
        (["sign", files["truncated"], "--key", tmp / "missing.key"], 2),
        (["verify", good, "--trust", tmp / "no-such-trust"], 2),
        (["verify", good], 2),
        (["inspect", good, "--trust", tmp / "no-such-trust"], 2),
        (["run", good, "--context", "[1]"], 2),
        (["key", "show", tmp / "missing.pub"], 2),
        (["package", tmp / "no-such-project"], 2),
        (["new"], 2),
        (["inspect", "--bogus", good], 2),
        (["nope"], 2),
    ]


def test_every_error_has_exactly_one_hint(bad_files, tmp_path):
    for args, code in failing_commands(bad_files, tmp_path):
        result = invoke(args)
        err = result.stderr.splitlines()
        assert result.exit_code == code, (args, result.output)
        assert err and err[0].startswith("error: "), (args, err)
        hints = [line for line in err if line.startswith("hint: ")]
        assert len(hints) == 1 and len(hints[0]) > len("hint: ") + 10, (args, err)
        assert "COMMAND" not in hints[0], (args, hints)
        assert "Traceback" not in result.output


def test_every_json_error_has_a_hint(bad_files, tmp_path):
    for args, code in failing_commands(bad_files, tmp_path):
        result = invoke([*args, "--json"] if args != ["nope"] else ["--json", "nope"])
        assert result.exit_code == code, (args, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["code"] and error["message"] and error["hint"], (args, error)


def test_the_library_gives_every_error_a_hint():
    assert CloacinaError("x").hint
    assert "validate" in PackageError("x").hint
    assert UsageError("x", hint="do this").hint == "do this"
    assert "--force" in UsageError("x", code="exists").hint
    assert "copy it again" in PackageError("x", code="archive-truncated").hint


def test_an_empty_file_is_called_empty(bad_files):
    """An empty file (an interrupted download, a '> FILE' gone wrong) is said to be
    empty, with the hint a cut-short file gets, not that it 'starts with' neither format."""
    empty = bad_files["empty"]
    for args in (["inspect", empty], ["ls", empty], ["graph", empty],
                 ["diff", empty, bad_files["good"]], ["validate", empty]):
        result = invoke(args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert f"{empty} is empty (0 bytes)" in result.output, (args, result.output)
        assert "starts neither" not in result.output, (args, result.output)
        if args[0] != "validate":  # validate's findings have no hint line
            assert "copy it again" in result.stderr, (args, result.stderr)


def test_a_package_cut_short_is_named_in_the_error(bad_files):
    """'head -c' of a package: the error names the file, as the engine reader's do."""
    cut = bad_files["truncated"]
    for args in (["inspect", cut], ["ls", cut], ["graph", cut], ["run", cut],
                 ["diff", bad_files["good"], cut]):
        result = invoke(args)
        assert result.exit_code in (1, 2), (args, result.output)
        first = result.stderr.splitlines()[0]
        assert f"{cut}: " in first and "truncated" in first, (args, first)
        assert "copy it again" in result.stderr, (args, result.stderr)


def test_a_reader_that_goes_away_is_not_a_failed_check():
    """Found by the second new-user trial: 'cloacinactl … | head -1' exited 1, which
    under pipefail reads as a failed check; now 141 (128 + SIGPIPE), as coreutils."""
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("cloacinactl"))
    proc = subprocess.Popen([exe, "new", "--list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    proc.stdout.close()  # gone before the command's first write (it takes ~0.1 s to start)
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and err == b""
