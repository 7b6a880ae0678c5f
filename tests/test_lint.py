"""The code stays lint-clean (ruff, with a complexity limit of 10) and type-checks (mypy);
the settings are in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing():
    pytest.importorskip("ruff", reason="ruff is a test dependency: pip install -e '.[test]'")
    proc = _run("ruff", "check", "cloacina_build")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing():
    pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")
    cache = ROOT / ".mypy_cache"
    proc = _run("mypy", "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stdout + proc.stderr
