"""cloacinactl run: progress for people, one JSON object for machines, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.ops.signing import sign_package
from cloacina_build.trust.keys import generate, load_signing_key

from .workflows import build

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def ctl(*args, cwd=None, env=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def env(tmp_path):
    return {"CLOACINA_CACHE_DIR": str(tmp_path / "cache")}


def test_run_the_example_for_people(built_pipeline, env):
    proc = ctl("run", built_pipeline, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("data_pipeline: completed in ")
    assert "warning: no --trust given" in proc.stderr
    assert "] -> collect_data started" in proc.stderr
    assert "] ok generate_report completed" in proc.stderr


def test_run_json(built_etl, env):
    proc = ctl("run", built_etl, "--json", "--context",
               '{"region": "eu", "notify_enabled": false}', env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "completed"
    assert data["tasks"] == {"extract_orders": "completed", "validate_orders": "completed",
                             "load_orders": "completed", "notify": "skipped"}
    assert data["context"]["batch_size"] == 500 and data["context"]["region"] == "eu"
    assert set(data["timings"]) == {"total", "extract_orders", "validate_orders",
                                    "load_orders"}
    assert proc.stderr == ""


def test_context_from_a_file_and_param_errors(built_etl, env, tmp_path):
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({"region": "us", "batch_size": 3}))
    proc = ctl("run", built_etl, "--context", f"@{ctx}", "--json", env=env)
    assert json.loads(proc.stdout)["context"]["loaded"] == 2
    proc = ctl("run", built_etl, env=env)
    assert proc.returncode == 2
    assert "error: required param 'region' (str) is missing" in proc.stderr
    assert "-> " not in proc.stderr  # nothing ran
    proc = ctl("run", built_etl, "--context", '{"region": 5}', env=env)
    assert proc.returncode == 2 and "param 'region' must be a str, not int 5" in proc.stderr
    proc = ctl("run", built_etl, "--context", "[1, 2]", env=env)
    assert proc.returncode == 2 and "--context must be a JSON object" in proc.stderr


def test_failing_task_exits_1_with_the_users_traceback(tmp_path, env):
    pkg = build(tmp_path / "fails", '''
        import cloaca

        def parse(text):
            return int(text)

        @cloaca.task(id="load", retry_attempts=1, retry_backoff="fixed", retry_delay_ms=1)
        def load(ctx):
            ctx.set("n", parse("not a number"))
            return ctx
    ''', tmp_path)
    proc = ctl("run", pkg, env=env)
    assert proc.returncode == 1
    assert "error: task 'load' failed after 2 tries: ValueError: invalid literal" \
        in proc.stderr
    assert "in parse\n    return int(text)" in proc.stderr
    assert "cloacina_build" not in proc.stderr
    data = json.loads(ctl("run", pkg, "--json", env=env).stdout)
    assert data["status"] == "failed" and data["tasks"] == {"load": "failed"}
    assert "ValueError" in data["failures"]["load"]["traceback"]


def test_run_with_trust_requires_verification(tmp_path, env, built_pipeline):
    generate("ops", tmp_path / "keys")
    proc = ctl("run", built_pipeline, "--trust", tmp_path / "keys", env=env)
    assert proc.returncode == 1
    assert "cannot be loaded: it failed verification" in proc.stderr
    assert "signature-missing" in proc.stderr
    signed = tmp_path / "signed.cloacina"
    signed.write_bytes(built_pipeline.read_bytes())
    sign_package(signed, load_signing_key(str(tmp_path / "keys" / "ops.key")))
    proc = ctl("run", signed, "--trust", tmp_path / "keys", env=env)
    assert proc.returncode == 0 and "warning" not in proc.stderr


def test_triggers_are_listed_not_fired(built_etl, env):
    proc = ctl("run", built_etl, "--context", '{"region": "eu"}', env=env)
    assert "trigger nightly (cron 0 2 * * *) is listed, not fired" in proc.stderr


def test_one_retry_means_two_tries_in_inspect_and_in_run(tmp_path, env):
    """retry_attempts=1 is shown as "1 retry" by inspect, and a task that always fails is
    tried exactly twice by run (the engine's meaning: retries after the first try)."""
    pkg = build(tmp_path / "flaky", '''
        import cloaca

        @cloaca.task(id="flaky", retry_attempts=1, retry_backoff="fixed", retry_delay_ms=1)
        def flaky(ctx):
            raise RuntimeError("always")
    ''', tmp_path)
    shown = ctl("inspect", pkg, env=env).stdout
    row = next(line for line in shown.splitlines() if line.strip().startswith("flaky"))
    assert " 1 retry " in row and "1x" not in row
    proc = ctl("run", pkg, env=env)
    assert proc.returncode == 1
    assert proc.stderr.count("flaky try 1 failed: RuntimeError: always") == 1
    assert "flaky try 2 failed" not in proc.stderr
    assert "flaky failed (after 2 tries)" in proc.stderr
    assert "error: task 'flaky' failed after 2 tries: RuntimeError: always" in proc.stderr
    data = json.loads(ctl("run", pkg, "--json", env=env).stdout)
    assert data["attempts"] == {"flaky": 2}
