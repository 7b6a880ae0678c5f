"""attest, package --provenance and verify --provenance through the real console script:
exit codes, text, JSON, refusals, and a package's strings kept printable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

EXE = str(Path(sys.executable).with_name("cloacinactl"))
CI_VARS = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
           "CI_JOB_URL")


def ctl(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CI_VARS}
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True,
                          env={**base, **(env or {})}, cwd=cwd)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keys")
    for name in ("release", "other"):
        proc = ctl("key", "generate", name, "--out", root / name)
        assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    dst = tmp_path / "dp"
    shutil.copytree(EXAMPLES / "data-pipeline", dst,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    return dst


def test_package_sign_provenance_then_verify(project, keys):
    env = {"CI_JOB_URL": "https://gitlab.example/org/flows/-/jobs/4242"}
    proc = ctl("package", project, "--sign", keys / "release/release.key", "--provenance",
               env=env)
    assert proc.returncode == 0, proc.stderr
    pkg = project / "dist" / "data-pipeline-1.0.0.cloacina"
    lines = proc.stdout.splitlines()
    assert lines[3].startswith("  signed by release (key ")
    assert lines[4].startswith(f"  wrote {pkg}.intoto.jsonl: build provenance of "
                               "data-pipeline-1.0.0.cloacina (sha256 ")
    assert "invocation: https://gitlab.example/org/flows/-/jobs/4242" in proc.stdout
    proc = ctl("verify", pkg, "--trust", keys / "release", "--provenance")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == \
        "verified: data-pipeline 1.0.0, signed by release, build provenance verified"
    assert f"provenance: {pkg}.intoto.jsonl: verified, attested by release" in proc.stdout
    data = json.loads(ctl("verify", pkg, "--trust", keys / "release", "--provenance",
                          "--json").stdout)
    prov = data["provenance"]
    assert data["verified"] and prov["verified"] and prov["signer"] == "release"
    facts = prov["predicate"]
    assert facts["invocation_id"] == "https://gitlab.example/org/flows/-/jobs/4242"
    assert facts["build_type"].endswith("/docs/provenance.md#buildtype-v1")
    assert {"started_on", "finished_on", "toolchain", "source", "builder_id"} <= set(facts)
    assert [t["name"] for t in facts["toolchain"]][:2] == ["cloacina-build", "python"]
    proc = ctl("verify", pkg, "--trust", keys / "other", "--provenance")
    assert proc.returncode == 1
    assert "error[provenance-untrusted]" in proc.stdout
    assert "provenance: " in proc.stdout and "NOT VERIFIED (untrusted)" in proc.stdout


def test_verify_provenance_without_an_attestation_fails(tmp_path, built_pipeline, keys):
    pkg = tmp_path / built_pipeline.name
    shutil.copyfile(built_pipeline, pkg)
    assert ctl("sign", pkg, "--key", keys / "release/release.key").returncode == 0
    assert ctl("verify", pkg, "--trust", keys / "release").returncode == 0
    proc = ctl("verify", pkg, "--trust", keys / "release", "--provenance")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith(
        f"error[provenance-missing] {pkg}.intoto.jsonl: no build provenance beside")
    data = json.loads(ctl("verify", pkg, "--trust", keys / "release", "--provenance",
                          "--json").stdout)
    assert data["verified"] is False and data["provenance"]["status"] == "missing"


def test_attest_an_existing_package_of_either_format(tmp_path, project, keys):
    key = keys / "release/release.key"
    for fmt in ("cloacina", "engine"):
        out = tmp_path / fmt / "p.cloacina"
        assert ctl("package", project, "-o", out, "--format", fmt, "--sign", key)\
            .returncode == 0
        proc = ctl("attest", out, "--key", key, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(proc.stdout)
        assert data["subject"]["name"] == "p.cloacina"
        assert data["predicate"]["attested_after_build"] is True
        assert data["predicate"]["external_parameters"] == {"format": fmt}
        assert ctl("verify", out, "--trust", keys / "release", "--provenance").returncode == 0
        again = ctl("attest", out, "--key", key)
        assert again.returncode == 2 and "refusing to replace" in again.stderr
        assert "--force" in again.stderr
        forced = ctl("attest", out, "--key", key, "--force")
        assert forced.returncode == 0 and "replaced the provenance" in forced.stdout
        signed = ctl("sign", out, "--key", keys / "other/other.key")
        assert signed.returncode == 2 and "attest last" in signed.stderr


def test_attest_text(tmp_path, built_pipeline, keys):
    pkg = tmp_path / built_pipeline.name
    shutil.copyfile(built_pipeline, pkg)
    proc = ctl("attest", pkg.name, "--key", keys / "release/release.key", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"wrote {pkg.name}.intoto.jsonl: build provenance of "
                               f"{pkg.name} (sha256 ")
    assert lines[1].startswith("  signed by release (key ")
    assert lines[1].endswith("; attested after the build, from its build manifest")
    assert any(line.startswith("  toolchain:  cloacina-build ") for line in lines)


def test_usage_errors(tmp_path, project, keys):
    proc = ctl("package", project, "--provenance")
    assert proc.returncode == 2 and "--provenance needs --sign" in proc.stderr
    proc = ctl("attest", tmp_path / "none.cloacina", "--key", keys / "release/release.key")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    not_a_package = tmp_path / "x.cloacina"
    not_a_package.write_bytes(b"hello")
    proc = ctl("attest", not_a_package, "--key", keys / "release/release.key", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["ok"] is False
    assert not (tmp_path / "x.cloacina.intoto.jsonl").exists()


def test_a_package_string_reaches_the_terminal_printable(tmp_path, built_pipeline, keys):
    """The build manifest's backend name is the package's string: shown escaped."""
    from .hostile import edit_manifest, read_members, write_members

    def evil(manifest):
        manifest["build"]["backend"] = "hatchling.build\x1b[2J\u202e"

    members = edit_manifest(read_members(built_pipeline), evil)
    pkg = write_members(tmp_path / "evil.cloacina", members, fix=True)
    proc = ctl("attest", pkg, "--key", keys / "release/release.key")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    assert "hatchling.build\\x1b[2J\\u202e" in proc.stdout
