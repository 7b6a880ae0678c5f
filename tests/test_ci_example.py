"""The CI example runs as written: its cloacinactl steps, against the bundled example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import EXAMPLES

WORKFLOW = EXAMPLES / "ci" / "github-actions.yml"


def cloacinactl_steps() -> list[str]:
    """Every shell line of the workflow that runs cloacinactl, in order."""
    lines, block = [], False
    for raw in WORKFLOW.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("run: |"):
            block = True
            continue
        if stripped.startswith("run:"):
            block = False
            stripped = stripped[4:].strip()
        elif block and not stripped.startswith(("- ", "uses:", "with:", "name:", "env:")) \
                and stripped:
            pass
        else:
            block = False
        if stripped.startswith("cloacinactl "):
            lines.append(stripped)
    return lines


def test_the_workflow_signs_with_a_key_from_a_secret():
    steps = cloacinactl_steps()
    assert steps[0] == "cloacinactl validate ."
    assert any("--sign env:CLOACINA_SIGNING_KEY" in s for s in steps)
    assert any(s.startswith("cloacinactl verify") and "--trust" in s for s in steps)
    assert "secrets.CLOACINA_SIGNING_KEY" in WORKFLOW.read_text()


def test_the_workflow_steps_run(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "data-pipeline", project, ignore=shutil.ignore_patterns("dist"))
    exe = str(Path(sys.executable).with_name("cloacinactl"))
    env = {**os.environ, "CLOACINA_KEY_PASSPHRASE": "ci passphrase",
           "GITHUB_REPOSITORY": "acme/data-pipeline", "GITHUB_SHA": "0" * 40}
    subprocess.run([exe, "key", "generate", "ci-2026", "--out", str(tmp_path / "keys"),
                    "--encrypt"], check=True, env=env, capture_output=True)
    (project / "trust").mkdir()
    shutil.copy(tmp_path / "keys" / "ci-2026.pub", project / "trust")
    env["CLOACINA_SIGNING_KEY"] = (tmp_path / "keys" / "ci-2026.key").read_text()
    for step in cloacinactl_steps():
        command = re.sub(r"^cloacinactl", exe, step)
        proc = subprocess.run(["bash", "-c", command], cwd=project, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{step}\n{proc.stdout}\n{proc.stderr}"
    proc = subprocess.run([exe, "inspect", "dist/data-pipeline-1.0.0.cloacina", "--trust",
                           "trust"], cwd=project, capture_output=True, text=True)
    assert '"ci build of acme/data-pipeline at 0000' in proc.stdout
