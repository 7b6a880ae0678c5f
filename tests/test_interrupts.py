"""Ctrl-C and SIGTERM during a real build: exit 130 (143), one error line and a hint, and
nothing left behind in $TMPDIR (the backend's temporaries included) or in the output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

CLI = Path(sys.executable).with_name("cloacinactl")

# Stands for what hatchling does (its wheel goes to a tmp*.whl in $TMPDIR first), then
# waits to be interrupted; it tells the test where its temporary is and its pid.
SLOW = '''
import os, tempfile, time

def slow():
    fd, path = tempfile.mkstemp(suffix=".whl")
    os.write(fd, b"x" * (1 << 20))
    with open(os.environ["CLOACINA_TEST_MARKER"] + ".part", "w") as fh:
        fh.write(f"{os.getpid()} {path}")
    os.replace(os.environ["CLOACINA_TEST_MARKER"] + ".part", os.environ["CLOACINA_TEST_MARKER"])
    time.sleep(120)
'''

HOOK = SLOW + '''
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

class SlowHook(BuildHookInterface):
    def initialize(self, version, build_data):
        slow()
'''

BACKEND = SLOW + '''
from hatchling.build import *  # noqa: F403
from hatchling import build as _hatchling

def build_wheel(*args, **kwargs):
    slow()
    return _hatchling.build_wheel(*args, **kwargs)
'''


def slow_project(root: Path, how: str) -> Path:
    """A PEP 621 project whose wheel build hangs: through a hatchling build hook (the build
    runs in the background, beside discovery) or an in-tree backend (run after it)."""
    pkg = root / "src" / "slow_wf"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tasks.py").write_text("import cloaca\n\n@cloaca.task(id='t')\n"
                                  "def t(ctx):\n    return ctx\n")
    if how == "hook":
        system = 'requires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        (root / "hatch_build.py").write_text(HOOK)
        extra = "[tool.hatch.build.hooks.custom]\n"
    else:
        system = ('requires = ["hatchling"]\nbuild-backend = "slow_backend"\n'
                  'backend-path = ["_backend"]\n')
        (root / "_backend").mkdir()
        (root / "_backend" / "slow_backend.py").write_text(BACKEND)
        extra = ""
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        {system}
        [project]
        name = "slow-wf"
        version = "1.0.0"

        [tool.cloacina]
        workflow_name = "slow_wf"
        entry_module = "slow_wf.tasks"

        [tool.hatch.build.targets.wheel]
        packages = ["src/slow_wf"]
        """).replace("\n        ", "\n") + extra)
    return root


def _wait_for(marker: Path, proc: subprocess.Popen) -> tuple[int, Path]:
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the build ended before the backend started: {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the backend never started")
        time.sleep(0.05)
    pid, path = marker.read_text().split(" ", 1)
    return int(pid), Path(path)


@pytest.mark.parametrize("how, signum, group, as_json", [
    ("hook", signal.SIGINT, False, False),      # Ctrl-C reaching only cloacinactl
    ("hook", signal.SIGINT, True, False),       # Ctrl-C at a terminal: the process group
    ("backend", signal.SIGINT, False, False),   # the backend runs in the main thread
    ("hook", signal.SIGTERM, False, False),
    ("hook", signal.SIGINT, False, True),       # --json: the error object on stdout
])
def test_an_interrupted_build_leaves_nothing_behind(tmp_path, how, signum, group, as_json):
    project = slow_project(tmp_path / "project", how)
    tmpdir, out, marker = tmp_path / "tmp", tmp_path / "out", tmp_path / "started"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir), CLOACINA_TEST_MARKER=str(marker))
    proc = subprocess.Popen(
        [str(CLI), "package", str(project), "-o", f"{out}/", *(["--json"] if as_json else [])],
        env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    backend_pid, backend_tmp = _wait_for(marker, proc)
    assert backend_tmp.is_relative_to(tmpdir) and backend_tmp.exists()
    time.sleep(0.5)  # cloacinactl is now waiting for the backend
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    stdout, err = proc.communicate(timeout=120)
    word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    assert proc.returncode == code, err.decode()
    hint = "nothing was left half-written here; run the command again"
    if as_json:  # found by a new user: nothing on stdout, though every error is an object
        assert json.loads(stdout) == {"ok": False, "error": {"code": word, "message": word,
                                                             "hint": hint}}
    else:
        assert err.decode().splitlines() == [f"error: {word}", f"hint: {hint}"]
    assert list(tmpdir.iterdir()) == []
    assert not out.exists() or list(out.iterdir()) == []
    # the backend was killed and reaped by cloacinactl (a zombie would still answer)
    with pytest.raises(ProcessLookupError):
        os.kill(backend_pid, 0)
