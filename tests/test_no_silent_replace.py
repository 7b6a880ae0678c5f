"""A signature, or a signed package, is never replaced silently: ``exists`` (exit 2) with a
hint naming ``--force``; with ``--force`` the output says what was replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.build.builder import build_package
from cloacina_build.cli.main import cli
from cloacina_build.errors import UsageError
from cloacina_build.format.package import open_package
from cloacina_build.ops.signing import sign_detached, sign_package
from cloacina_build.trust.keys import generate, load_signing_key

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    private, _public, key_id = generate("rel", tmp_path_factory.mktemp("keys"))
    return private, load_signing_key(str(private)), key_id


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_detached_signature_is_not_replaced_without_force(pipeline_pkg, signing):
    _, key, key_id = signing
    sig = pipeline_pkg.with_name(pipeline_pkg.name + ".sig")
    first = sign_detached(pipeline_pkg, key)
    assert first.replaced is None and sig.is_file()
    before = sig.read_bytes()
    with pytest.raises(UsageError) as info:
        sign_detached(pipeline_pkg, key)
    assert info.value.code == "exists" and "--force" in (info.value.hint or "")
    assert sig.read_bytes() == before
    again = sign_detached(pipeline_pkg, key, force=True)
    assert again.replaced and key_id[:16] in again.replaced and sig.name in again.replaced


def test_detached_through_the_cli(pipeline_pkg, signing):
    private, _, key_id = signing
    assert invoke("sign", pipeline_pkg, "--key", private, "--detached").exit_code == 0
    result = invoke("sign", pipeline_pkg, "--key", private, "--detached")
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert err[0].startswith("error: ") and "refusing to replace" in err[0]
    assert err[1].startswith("hint: ") and "--force" in err[1]
    result = invoke("sign", pipeline_pkg, "--key", private, "--detached", "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["code"] == "exists"
    result = invoke("sign", pipeline_pkg, "--key", private, "--detached", "--force")
    assert result.exit_code == 0 and result.stdout.startswith("replaced a detached signature")
    result = invoke("sign", pipeline_pkg, "--key", private, "--detached", "--force", "--json")
    assert key_id[:16] in json.loads(result.stdout)["replaced"]


def test_embedded_re_signing_through_the_cli(pipeline_pkg, signing):
    private, _, _ = signing
    assert invoke("sign", pipeline_pkg, "--key", private).exit_code == 0
    before = pipeline_pkg.read_bytes()
    result = invoke("sign", pipeline_pkg, "--key", private, "--comment", "again")
    assert result.exit_code == 2 and "--force" in result.stderr
    assert pipeline_pkg.read_bytes() == before
    result = invoke("sign", pipeline_pkg, "--key", private, "--comment", "again", "--force",
                    "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 0 and out["signatures"] == 1
    assert out["replaced"].startswith("the embedded signature by rel")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("proj") / "data-pipeline"
    shutil.copytree(EXAMPLES / "data-pipeline", dst,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    return dst


def test_package_overwrites_unsigned_but_not_signed(project, signing, tmp_path):
    _, key, _ = signing
    out = tmp_path / "out" / "p.cloacina"
    assert build_package(project, out).replaced is None
    assert build_package(project, out).replaced is None  # unsigned: rebuilt as before
    sign_package(out, key)
    signed = out.read_bytes()
    with pytest.raises(UsageError) as info:
        build_package(project, out)
    assert info.value.code == "exists" and "--force" in (info.value.hint or "")
    assert out.read_bytes() == signed
    result = build_package(project, out, force=True)
    assert result.replaced and "embedded signature by rel" in result.replaced
    assert open_package(out).signature_members == []


def test_package_refuses_beside_a_detached_signature_through_the_cli(project, signing,
                                                                      tmp_path):
    _, key, _ = signing
    out = tmp_path / "p.cloacina"
    assert invoke("package", project, "-o", out).exit_code == 0
    sign_detached(out, key)
    result = invoke("package", project, "-o", out)
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert "already a signed package" in err[0] and "--force" in err[1] and len(err) == 2
    result = invoke("package", project, "-o", out, "--force", "--json")
    assert result.exit_code == 0
    assert "no longer matches" in json.loads(result.stdout)["replaced"]


def test_inspect_lists_a_detached_signature_beside_the_file(pipeline_pkg, signing, tmp_path,
                                                           built_etl):
    private, key, key_id = signing
    assert "Signatures: none" in invoke("inspect", pipeline_pkg).stdout
    sign_detached(pipeline_pkg, key)
    text = invoke("inspect", pipeline_pkg).stdout
    assert f"key {key_id[:16]}" in text and f"(detached: {pipeline_pkg.name}.sig)" in text
    assert "unknown key (no --trust given)" in text
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(private.with_suffix(".pub"), trust)
    result = invoke("inspect", pipeline_pkg, "--trust", trust, "--json")
    [sig] = json.loads(result.stdout)["signatures"]
    assert sig["detached"] is True and sig["status"] == "verified" and sig["key_id"] == key_id
    assert "(detached: " in invoke("inspect", pipeline_pkg, "--trust", trust).stdout
    sig_path = pipeline_pkg.with_name(pipeline_pkg.name + ".sig")  # made for other bytes
    sign_detached(built_etl, key, out=sig_path, force=True)
    result = invoke("inspect", pipeline_pkg, "--trust", trust, "--json")
    assert result.exit_code == 0, result.output
    [sig] = json.loads(result.stdout)["signatures"]
    assert sig["status"] == "wrong-package"


def test_an_attestation_alone_is_not_called_a_signature(project, signing, tmp_path):
    """Found by the second new-user trial: an unsigned package with only FILE.intoto.jsonl
    beside it was 'already a signed package' whose 'signatures are lost'."""
    from cloacina_build.ops.attest import attest_package

    _, key, _ = signing
    out = tmp_path / "p.cloacina"
    assert invoke("package", project, "-o", out).exit_code == 0
    attest_package(out, key, env={})
    err = invoke("package", project, "-o", out).stderr.splitlines()
    assert "is already an attested package (build provenance p.cloacina.intoto.jsonl" in err[0]
    assert "its attestation will no longer match" in err[1] and "signature" not in err[1]
    replaced = json.loads(invoke("package", project, "-o", out, "--force", "--json").stdout)
    assert replaced["replaced"].startswith("the attested package p.cloacina")
