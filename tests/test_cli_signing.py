"""The signing commands through the real console script: exit codes, JSON, secrecy."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def ctl(*args, env=None, stdin=None, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=stdin, cwd=cwd)


@pytest.fixture
def keys_dir(tmp_path) -> Path:
    proc = ctl("key", "generate", "release", "--out", tmp_path / "keys")
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "keys"


def test_key_generate_and_show(tmp_path):
    proc = ctl("key", "generate", "ci", "--out", tmp_path, "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["encrypted"] is False
    assert stat.S_IMODE((tmp_path / "ci.key").stat().st_mode) == 0o600
    for target in ("ci.pub", "ci.key"):
        shown = json.loads(ctl("key", "show", tmp_path / target, "--json").stdout)
        assert shown == {"ok": True, "id": data["id"], "name": "ci"}
    again = ctl("key", "generate", "ci", "--out", tmp_path)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_encrypted_key_never_prompts_without_a_terminal(tmp_path):
    proc = ctl("key", "generate", "enc", "--out", tmp_path, "--encrypt", stdin="")
    assert proc.returncode == 2 and "--encrypt needs a passphrase" in proc.stderr
    assert not (tmp_path / "enc.key").exists()
    env = {"CLOACINA_KEY_PASSPHRASE": "pw"}
    assert ctl("key", "generate", "enc", "--out", tmp_path, "--encrypt", env=env).returncode == 0
    proc = ctl("key", "show", tmp_path / "enc.key", stdin="")
    assert proc.returncode == 2 and "encrypted and no passphrase" in proc.stderr
    (tmp_path / "pw.txt").write_text("pw\n")
    proc = ctl("key", "show", tmp_path / "enc.key", "--passphrase-file", tmp_path / "pw.txt")
    assert proc.returncode == 0 and "name: enc" in proc.stdout


def test_package_sign_verify_inspect(tmp_path, keys_dir):
    project = tmp_path / "dp"
    shutil.copytree(EXAMPLES / "data-pipeline", project, ignore=shutil.ignore_patterns("dist"))
    proc = ctl("package", project, "--sign", keys_dir / "release.key", "--comment", "build 7")
    assert proc.returncode == 0, proc.stderr
    assert "signed by release" in proc.stdout
    pkg = project / "dist" / "data-pipeline-1.0.0.cloacina"
    proc = ctl("verify", pkg, "--trust", keys_dir)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "verified: data-pipeline 1.0.0, signed by release"
    info = json.loads(ctl("inspect", pkg, "--json", "--trust", keys_dir).stdout)
    (sig,) = info["signatures"]
    assert (sig["signer"], sig["comment"], sig["status"]) == ("release", "build 7", "verified")
    text = ctl("inspect", pkg).stdout
    assert '"build 7": unknown key (no --trust given)' in text
    data = json.loads(ctl("validate", pkg, "--trust", keys_dir, "--require-signature",
                          "--json").stdout)
    assert data["valid"] and data["verified_by"] == ["release"]


def test_verify_exit_codes_and_messages(tmp_path, keys_dir, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    proc = ctl("verify", pkg, "--trust", keys_dir)
    assert proc.returncode == 1
    assert "error[signature-missing] data-pipeline 1.0.0 is unsigned" in proc.stdout
    proc = ctl("verify", pkg)
    assert proc.returncode == 2 and "verify needs --trust" in proc.stderr
    proc = ctl("verify", pkg, "--trust", tmp_path / "nowhere")
    assert proc.returncode == 2 and "no trust directory or file" in proc.stderr
    proc = ctl("validate", pkg, "--require-signature")
    assert proc.returncode == 2 and "--trust" in proc.stderr
    for proc in (ctl("verify", pkg, "--trust", keys_dir, "--json"),):
        data = json.loads(proc.stdout)
        assert data["verified"] is False
        assert [f["code"] for f in data["findings"]] == ["signature-missing"]


def test_detached_sig_is_picked_up_beside_the_package(tmp_path, keys_dir, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    proc = ctl("sign", pkg, "--key", keys_dir / "release.key", "--detached")
    assert proc.returncode == 0 and pkg.read_bytes() == built_pipeline.read_bytes()
    assert (tmp_path / "p.cloacina.sig").is_file()
    assert ctl("verify", pkg, "--trust", keys_dir).returncode == 0
    proc = ctl("sign", pkg, "--key", keys_dir / "release.key", "--detached", "--comment", "x")
    assert proc.returncode == 2


def test_key_from_a_secret_is_never_echoed(tmp_path, keys_dir, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    pem = (keys_dir / "release.key").read_text()
    secret_line = pem.splitlines()[1]
    proc = ctl("sign", pkg, "--key", "env:SIGNING_KEY", "--json", env={"SIGNING_KEY": pem})
    assert proc.returncode == 0, proc.stderr
    assert secret_line not in proc.stdout + proc.stderr
    broken = pem.replace(secret_line, "AAAAAAAA" + secret_line[8:])
    proc = ctl("sign", pkg, "--key", "env:SIGNING_KEY", env={"SIGNING_KEY": broken})
    assert proc.returncode == 2 and "cannot load the key" in proc.stderr
    assert secret_line[8:] not in proc.stdout + proc.stderr
    proc = ctl("sign", pkg, "--key", "-", "--force", stdin=pem)  # the same key again
    assert proc.returncode == 0 and secret_line not in proc.stdout + proc.stderr


def test_rollback_state_through_the_cli(tmp_path, keys_dir, built_pipeline):
    pkg = tmp_path / "p.cloacina"
    shutil.copyfile(built_pipeline, pkg)
    assert ctl("sign", pkg, "--key", keys_dir / "release.key").returncode == 0
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "packages": {"data-pipeline": "2.0.0"}}))
    proc = ctl("verify", pkg, "--trust", keys_dir, "--state", state)
    assert proc.returncode == 1 and "error[rollback]" in proc.stdout
    proc = ctl("verify", pkg, "--trust", keys_dir, "--state", state, "--allow-rollback")
    assert proc.returncode == 0
