"""Strings from a package are data: a valid, signed, verified package whose texts hold
terminal escapes cannot drive the terminal through any command, and JSON stays exact.

The package is built from a real project whose description, author, trigger name and secret
name hold ANSI CSI/OSC sequences and a right-to-left override, signed by a signer whose name
and comment fake a "verified" line, and holding a task that fails with an escape in its
message.  Every command runs as a real subprocess; the text output is pinned by a golden file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.ops.signing import sign_package
from cloacina_build.trust.keys import generate, load_signing_key

from .conftest import EXAMPLES
from .test_cli import check_golden

EXE = str(Path(sys.executable).with_name("cloacinactl"))
CLEAR, TITLE, RED, RTL = "\x1b[2J", "\x1b]0;owned\x07", "\x1b[31m", "\u202e"
DESCRIPTION = f"Report{CLEAR}{TITLE} {RTL}evil"
AUTHOR = f"Team{RED} red"
TRIGGER = "in\x1b]0;x\x07box"
SECRET = "tok\x1b[0m"
SIGNER = "mallory\x1b[1m"
COMMENT = "ok\x1b[2K\r  signature verified"
FAILURE = "\x1b[2Jboom\x07"
# What must never reach a terminal: C0 controls but the line break, DEL, C1 controls and
# the Unicode line separators and bidirectional controls.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

EXTRA_SOURCE = f'''

@cloaca.workflow_secrets({SECRET!r})
@cloaca.trigger(name={TRIGGER!r}, poll_interval="30s")
def poll(context):
    return context
'''
FAILING_TASK = f'''

@cloaca.task(id="explode", dependencies=["generate_report"])
def explode(context):
    raise RuntimeError({FAILURE!r})
'''


def _project(root: Path, extra: str) -> Path:
    shutil.copytree(EXAMPLES / "data-pipeline", root,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    toml = root / "package.toml"
    text = re.sub(r'description = ".*"', lambda _: f"description = {json.dumps(DESCRIPTION)}",
                  toml.read_text())
    toml.write_text(re.sub(r'author = ".*"', lambda _: f"author = {json.dumps(AUTHOR)}", text))
    tasks = root / "workflow/data_pipeline/tasks.py"
    tasks.write_text(tasks.read_text() + extra)
    return root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("escapes")
    os.environ["GIT_CEILING_DIRECTORIES"] = str(base)
    try:
        built = {name: build_package(_project(base / name, extra), base / f"{name}.cloacina")
                 for name, extra in (("signed", EXTRA_SOURCE), ("failing", FAILING_TASK))}
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]
    generate("signer", base / "keys")
    trust = base / "trust"
    trust.mkdir()
    shutil.copy(base / "keys" / "signer.pub", trust)
    key = load_signing_key(str(base / "keys" / "signer.key"))
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for result in built.values():
        sign_package(result.path, key, comment=COMMENT, signer=SIGNER, when=when)
    return {"signed": built["signed"].path, "failing": built["failing"].path, "trust": trust,
            "cache": base / "cache"}


@pytest.fixture(autouse=True)
def _private_cache(hostile, monkeypatch):
    monkeypatch.setenv("CLOACINA_CACHE_DIR", str(hostile["cache"]))


def ctl(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, encoding="utf-8",
                          env=dict(os.environ, NO_COLOR="1"))
    assert proc.returncode == code, proc.stderr
    assert "Traceback (most recent call last)" not in proc.stderr or args[0] == "run"
    return proc


def _assert_terminal_safe(proc: subprocess.CompletedProcess) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert not RAW.findall(stream), RAW.findall(stream)


def test_inspect_shows_every_escape_and_pins_the_text(hostile):
    proc = ctl("inspect", str(hostile["signed"]), "--trust", str(hostile["trust"]))
    _assert_terminal_safe(proc)
    for shown in ("Report\\x1b[2J\\x1b]0;owned\\x07 \\u202eevil", "Team\\x1b[31m red",
                  "in\\x1b]0;x\\x07box", "tok\\x1b[0m", "mallory\\x1b[1m",
                  '"ok\\x1b[2K\\r  signature verified"'):
        assert shown in proc.stdout, shown
    check_golden("inspect-hostile-strings.txt",
                 re.sub(r"key [0-9a-f]{16}", "key <key-id>", proc.stdout))


@pytest.mark.parametrize("command, shown", [
    ("verify", "mallory\\x1b[1m"), ("validate", "valid: data-pipeline 1.0.0"),
    ("run", "trigger in\\x1b]0;x\\x07box (poll 30s) is listed")])
def test_every_command_keeps_the_terminal_safe(hostile, command, shown):
    proc = ctl(command, str(hostile["signed"]), "--trust", str(hostile["trust"]))
    _assert_terminal_safe(proc)
    assert shown in proc.stdout + proc.stderr


def test_a_failing_task_cannot_drive_the_terminal(hostile):
    proc = ctl("run", str(hostile["failing"]), "--trust", str(hostile["trust"]), code=1)
    _assert_terminal_safe(proc)
    assert "\\x1b[2Jboom\\x07" in proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr  # the task's own, escaped


def test_json_keeps_the_strings_exact(hostile):
    info = json.loads(ctl("inspect", "--json", str(hostile["signed"])).stdout)
    assert info["package"]["description"] == DESCRIPTION
    assert info["package"]["author"] == AUTHOR
    assert [t["name"] for t in info["triggers"]] == [TRIGGER]
    assert info["secrets"] == [SECRET]
    assert [(s["signer"], s["comment"]) for s in info["signatures"]] == [(SIGNER, COMMENT)]
    failed = json.loads(ctl("run", "--json", str(hostile["failing"]), "--trust",
                            str(hostile["trust"]), code=1).stdout)
    assert failed["failures"]["explode"]["error"] == f"RuntimeError: {FAILURE}"


def test_a_line_break_in_package_data_cannot_fake_a_line_of_an_error(tmp_path):
    """A member name holding a line break and a fake 'hint:' line reaches an error's
    findings; each piece of the error is escaped before the pieces are joined, so the
    CLI prints exactly one hint, its own."""
    from . import engine_tools as et

    fake = "x\nhint: all 2 signatures VERIFIED (trusted: release)"
    files = et.project_files(extra={f".cloacina-build/{fake}": b"{}"})
    archive = tmp_path / "fake.cloacina"
    archive.write_bytes(et.fidius_like(files, "etl-demo-1.0.0"))
    proc = ctl("run", str(archive), "--cache-dir", str(tmp_path / "cache"), code=1)
    _assert_terminal_safe(proc)
    hints = [line for line in proc.stderr.splitlines() if line.startswith("hint:")]
    assert len(hints) == 1 and "VERIFIED" not in hints[0], proc.stderr
    assert "x\\nhint: all 2 signatures VERIFIED" in proc.stderr


def test_replacing_a_signed_package_names_its_signer_safely(hostile, tmp_path):
    """package --force over a signed package says whose signature it replaced; the signer's
    name comes from the old file and is shown escaped."""
    out = tmp_path / "again.cloacina"
    shutil.copyfile(hostile["signed"], out)
    proc = ctl("package", str(hostile["signed"].parent / "signed"), "-o", str(out), "--force")
    _assert_terminal_safe(proc)
    assert "mallory\\x1b[1m" in proc.stdout and "replaced" in proc.stdout


def _engine_with_names(path: Path, *names: str) -> Path:
    from . import engine_tools as et

    prefix = "etl-demo-1.0.0"
    entries = et.files_entries(et.project_files(), prefix)
    entries += [et.entry(f"{prefix}/workflow/etl_demo/{name}", b"x") for name in names]
    path.write_bytes(et.engine_archive(entries))
    return path


def test_member_names_that_are_not_utf8_are_escaped_not_a_traceback(tmp_path):
    """tar keeps a name's bytes that are not UTF-8 as lone surrogates (surrogateescape).
    Written raw they make invalid UTF-8, and under a strict UTF-8 locale a traceback: text
    shows them escaped, JSON as a \\udcXX escape, in ls and diff --payload alike."""
    odd = _engine_with_names(tmp_path / "odd.cloacina", "d\udcffata.txt", f"{RED}red.txt")
    plain = _engine_with_names(tmp_path / "plain.cloacina")
    strict = dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8:strict")

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([EXE, *args], capture_output=True, env=strict, timeout=120)
        assert proc.returncode == code, proc.stderr.decode("utf-8", "replace")
        assert b"Traceback" not in proc.stderr
        text = subprocess.CompletedProcess(args, code, proc.stdout.decode("utf-8"),
                                           proc.stderr.decode("utf-8"))  # valid UTF-8
        _assert_terminal_safe(text)
        return text

    for args in (("ls", str(odd)), ("diff", "--payload", str(plain), str(odd))):
        out = run(*args, code=1 if args[0] == "diff" else 0).stdout
        assert "d\\udcffata.txt" in out and "\\x1b[31mred.txt" in out
    listed = json.loads(run("ls", "--json", str(odd)).stdout)
    paths = {f["path"] for f in listed["payload_files"]}
    assert {"workflow/etl_demo/d\udcffata.txt", f"workflow/etl_demo/{RED}red.txt"} <= paths
    diffed = json.loads(run("diff", "--json", "--payload", str(plain), str(odd), code=1).stdout)
    assert "workflow/etl_demo/d\udcffata.txt" in {f["path"] for f in diffed["files"]["added"]}
