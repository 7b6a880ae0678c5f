"""Build provenance: FILE.intoto.jsonl checked by an independent DSSE implementation (the
pre-authentication encoding built here, raw Ed25519 from cryptography), real keys made by
`cloacinactl key generate`, real packages of both formats, and every refusal with its code."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from cloacina_build.build.builder import build_package
from cloacina_build.errors import UsageError
from cloacina_build.ops.attest import attest_package
from cloacina_build.ops.predicate import ci_invocation
from cloacina_build.ops.signing import sign_package
from cloacina_build.ops.validate import verify_package
from cloacina_build.trust.dsse import pae, sign_envelope
from cloacina_build.trust.keys import load_signing_key
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.provenance import (
    BUILD_TYPE,
    BUILDER_ID,
    attestation_path,
    statement_bytes,
)
from cloacina_build.trust.store import load_trust

from .conftest import EXAMPLES

EXE = str(Path(sys.executable).with_name("cloacinactl"))
IN_TOTO = "application/vnd.in-toto+json"


def ctl(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict:
    """alice and bob trusted (their .pub files in ``trusted``), mallory not; made by the
    real command."""
    root = tmp_path_factory.mktemp("keys")
    out: dict = {"root": root, "trusted": root / "trusted"}
    out["trusted"].mkdir()
    for name in ("alice", "bob", "mallory"):
        proc = ctl("key", "generate", name, "--out", root / "all", "--json")
        assert proc.returncode == 0, proc.stderr
        out[name] = load_signing_key(str(root / "all" / f"{name}.key"))
        out[f"{name}.key"] = root / "all" / f"{name}.key"
        out[f"{name}.pub"] = root / "all" / f"{name}.pub"
    for name in ("alice", "bob"):
        shutil.copy(out[f"{name}.pub"], out["trusted"])
    return out


@pytest.fixture(scope="module")
def engine_built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("engine") / "data-pipeline-1.0.0.cloacina"
    build_package(EXAMPLES / "data-pipeline", out, format="engine")
    return out


@pytest.fixture(params=["cloacina", "engine"])
def package(request, built_pipeline, engine_built, tmp_path) -> Path:
    """A private copy of a real package of each format."""
    source = built_pipeline if request.param == "cloacina" else engine_built
    dst = tmp_path / source.name
    shutil.copyfile(source, dst)
    return dst


def raw_public(pub: Path) -> bytes:
    key = serialization.load_pem_public_key(pub.read_bytes())
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def independent_pae(payload_type: bytes, body: bytes) -> bytes:
    """DSSE v1's PAE, written out here from the specification."""
    return b" ".join([b"DSSEv1", str(len(payload_type)).encode("ascii"), payload_type,
                      str(len(body)).encode("ascii"), body])


def read_line(path: Path) -> dict:
    text = path.read_bytes()
    assert text.endswith(b"\n") and text.count(b"\n") == 1  # one JSON Lines record
    return json.loads(text)


def verify_independently(attestation: Path, pub: Path) -> dict:
    """Check the envelope without the library: the signature over the PAE, raw Ed25519;
    return the statement."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    envelope = read_line(attestation)
    assert envelope["payloadType"] == IN_TOTO
    body = base64.b64decode(envelope["payload"], validate=True)
    (signature,) = envelope["signatures"]
    raw = raw_public(pub)
    assert signature["keyid"] == hashlib.sha256(raw).hexdigest()
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(signature["sig"], validate=True),
        independent_pae(IN_TOTO.encode(), body))  # raises InvalidSignature otherwise
    return json.loads(body)


def policy(keys: dict, package: Path, **kw) -> TrustPolicy:
    return TrustPolicy(trust=load_trust(kw.pop("trust", keys["trusted"])),
                       provenance=attestation_path(package), **kw)


def codes(report) -> list[str]:
    return sorted({f.code for f in report.errors})


def rewrite(attestation: Path, change) -> None:
    """Edit the envelope's JSON (``change`` gets the dict) and write it back."""
    envelope = read_line(attestation)
    change(envelope)
    attestation.write_text(json.dumps(envelope) + "\n")


# ------------------------------------------------------------------ the envelope


def test_the_library_pae_is_the_specification():
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert pae("application/vnd.ex\u00e4mple+json", b"") == \
        b"DSSEv1 29 application/vnd.ex\xc3\xa4mple+json 0 "  # LEN counts bytes


def test_attest_writes_an_envelope_an_independent_verifier_accepts(package, keys):
    sign_package(package, keys["bob"])  # verify wants a signature; sign first, attest last
    result = attest_package(package, keys["alice"], env={})
    assert result.path == attestation_path(package) and result.path.is_file()
    statement = verify_independently(result.path, keys["alice.pub"])
    sha = hashlib.sha256(package.read_bytes()).hexdigest()
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": package.name, "digest": {"sha256": sha}}]
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    build = statement["predicate"]["buildDefinition"]
    run = statement["predicate"]["runDetails"]
    assert build["buildType"] == BUILD_TYPE and run["builder"]["id"] == BUILDER_ID
    fmt = "engine" if package.read_bytes()[:3] == b"BZh" else "cloacina"
    assert build["externalParameters"] == {"format": fmt}
    assert build["internalParameters"]["attestedAfterBuild"] is True
    assert "metadata" not in run  # the build's times and invocation are not known: omitted
    names = [d["name"] for d in build["resolvedDependencies"]]
    assert names[:3] == ["source", "cloacina-build", "python"]
    report = verify_package(package, policy(keys, package))
    assert report.ok, report.findings
    assert report.provenance is not None and report.provenance.signer == "alice"
    assert report.provenance.facts.attested_after_build is True


def test_attest_takes_its_facts_from_the_build_manifest(pipeline_pkg, keys):
    from cloacina_build.format.package import open_package

    build = open_package(pipeline_pkg).manifest.build
    statement = verify_independently(attest_package(pipeline_pkg, keys["bob"], env={}).path,
                                     keys["bob.pub"])
    deps = {d["name"]: d for d in statement["predicate"]["buildDefinition"]
            ["resolvedDependencies"]}
    if build.source_revision:
        assert deps["source"]["digest"] == {"gitCommit": build.source_revision}
    assert deps["python"]["annotations"]["version"] == build.python
    assert deps["cloacina-build"]["annotations"]["version"] == build.tool_version
    assert build.backend in deps
    internal = statement["predicate"]["buildDefinition"]["internalParameters"]
    assert internal["sourceDateEpoch"] == build.source_date_epoch


def test_an_existing_attestation_is_replaced_only_with_force(pipeline_pkg, keys):
    first = attest_package(pipeline_pkg, keys["alice"], env={})
    before = first.path.read_bytes()
    with pytest.raises(UsageError) as info:
        attest_package(pipeline_pkg, keys["bob"], env={})
    assert info.value.code == "exists" and first.path.read_bytes() == before
    again = attest_package(pipeline_pkg, keys["bob"], env={}, force=True)
    assert again.replaced and again.signer == "bob"
    assert [p.name for p in pipeline_pkg.parent.iterdir() if p.name.startswith(".")] == []


def test_signing_after_attesting_is_refused_and_would_stale_the_attestation(pipeline_pkg, keys):
    attest_package(pipeline_pkg, keys["alice"], env={})
    with pytest.raises(UsageError) as info:
        sign_package(pipeline_pkg, keys["alice"])
    assert info.value.code == "exists" and "attest last" in info.value.hint
    sign_package(pipeline_pkg, keys["alice"], force=True)  # the bytes change
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert codes(report) == ["provenance-subject-mismatch"]


# ------------------------------------------------------------------ refusals


def test_missing_attestation_is_refused(pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["alice"])
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert codes(report) == ["provenance-missing"]
    assert report.to_dict()["provenance"]["status"] == "missing"


def test_tampered_payload_is_refused(package, keys):
    sign_package(package, keys["alice"])
    path = attest_package(package, keys["alice"], env={}).path

    def tamper(envelope):
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["buildDefinition"]["externalParameters"]["format"] = "x"
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    rewrite(path, tamper)
    report = verify_package(package, policy(keys, package))
    assert codes(report) == ["provenance-invalid"]
    assert report.provenance is not None and report.provenance.facts is None  # never read


def test_an_attestation_of_other_bytes_is_refused(tmp_path, pipeline_pkg, keys):
    """The attestation of one package beside another: the subject digest differs.  Also a
    statement re-signed by a trusted key naming the right file but other bytes."""
    sign_package(pipeline_pkg, keys["alice"])
    other = tmp_path / "other" / pipeline_pkg.name
    other.parent.mkdir()
    shutil.copyfile(pipeline_pkg, other)
    sign_package(other, keys["bob"])  # same name, other bytes
    made = attest_package(other, keys["alice"], env={})
    shutil.copyfile(made.path, attestation_path(pipeline_pkg))
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert codes(report) == ["provenance-subject-mismatch"]
    assert "other bytes" in report.errors[0].message
    forged = sign_envelope(statement_bytes(pipeline_pkg.name, "0" * 64, {}), keys["alice"])
    from cloacina_build.trust.dsse import envelope_bytes

    attestation_path(pipeline_pkg).write_bytes(envelope_bytes(forged))
    assert codes(verify_package(pipeline_pkg, policy(keys, pipeline_pkg))) == \
        ["provenance-subject-mismatch"]


def test_a_renamed_file_does_not_match_its_subject(tmp_path, pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["alice"])
    made = attest_package(pipeline_pkg, keys["alice"], env={})
    renamed = tmp_path / "renamed.cloacina"
    pipeline_pkg.rename(renamed)
    made.path.rename(attestation_path(renamed))
    report = verify_package(renamed, policy(keys, renamed))
    assert codes(report) == ["provenance-subject-mismatch"]
    assert "another name" in report.errors[0].message


def test_untrusted_key_is_refused(pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["alice"])
    attest_package(pipeline_pkg, keys["mallory"], env={})
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert codes(report) == ["provenance-untrusted"]
    assert report.provenance.status == "untrusted"


def _trust_file(keys: dict, tmp_path: Path, **alice) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in alice.items())
    path = tmp_path / "trust.toml"
    path.write_text(f'version = 1\n[[keys]]\nname = "alice"\npath = "{keys["alice.pub"]}"\n'
                    f'{extra}[[keys]]\nname = "bob"\npath = "{keys["bob.pub"]}"\n')
    return path


def test_revoked_key_is_refused(tmp_path, pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["bob"])
    attest_package(pipeline_pkg, keys["alice"], env={})
    trust = _trust_file(keys, tmp_path, revoked="true", revoked_reason='"laptop stolen"')
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg, trust=trust))
    assert codes(report) == ["provenance-key-revoked"]
    assert "laptop stolen" in report.errors[0].message


def test_expired_key_is_refused_and_accepted_before_it_expired(tmp_path, pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["bob"])
    attest_package(pipeline_pkg, keys["alice"], env={})
    trust = _trust_file(keys, tmp_path, expires="2020-01-01T00:00:00Z")
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg, trust=trust))
    assert codes(report) == ["provenance-key-expired"]
    then = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)
    assert verify_package(pipeline_pkg, policy(keys, pipeline_pkg, trust=trust, now=then)).ok


def test_wrong_payload_type_is_refused(pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["alice"])
    path = attest_package(pipeline_pkg, keys["alice"], env={}).path
    rewrite(path, lambda e: e.update(payloadType="application/json"))
    assert codes(verify_package(pipeline_pkg, policy(keys, pipeline_pkg))) == \
        ["provenance-payload-type"]
    # signed as that type by a trusted key: still not an attestation
    body = base64.b64decode(read_line(path)["payload"])
    from cloacina_build.trust.dsse import envelope_bytes

    path.write_bytes(envelope_bytes(sign_envelope(body, keys["alice"], "application/json")))
    assert codes(verify_package(pipeline_pkg, policy(keys, pipeline_pkg))) == \
        ["provenance-payload-type"]


def test_another_predicate_type_is_refused(pipeline_pkg, keys):
    from cloacina_build.trust.dsse import envelope_bytes

    sign_package(pipeline_pkg, keys["alice"])
    sha = hashlib.sha256(pipeline_pkg.read_bytes()).hexdigest()
    statement = json.loads(statement_bytes(pipeline_pkg.name, sha, {}))
    statement["predicateType"] = "https://slsa.dev/provenance/v0.2"
    envelope = sign_envelope(json.dumps(statement).encode(), keys["alice"])
    attestation_path(pipeline_pkg).write_bytes(envelope_bytes(envelope))
    assert codes(verify_package(pipeline_pkg, policy(keys, pipeline_pkg))) == \
        ["provenance-statement"]


def test_url_safe_base64_and_a_missing_keyid_are_accepted(pipeline_pkg, keys):
    """DSSE: verifiers accept either base64 alphabet; keyid is only a hint."""
    sign_package(pipeline_pkg, keys["alice"])
    path = attest_package(pipeline_pkg, keys["bob"], env={}).path

    def url_safe(envelope):
        for field_owner, name in ((envelope, "payload"), (envelope["signatures"][0], "sig")):
            raw = base64.b64decode(field_owner[name])
            field_owner[name] = base64.urlsafe_b64encode(raw).decode()
        del envelope["signatures"][0]["keyid"]

    rewrite(path, url_safe)
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert report.ok, report.findings
    assert report.provenance.signer == "bob"
    # a keyid naming another trusted key decides nothing: the key that verifies counts
    rewrite(path, lambda e: e["signatures"][0].update(keyid=keys["alice"].public.id))
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert report.ok and report.provenance.signer == "bob"


def test_an_untrusted_second_signature_is_a_warning_beside_a_trusted_one(pipeline_pkg, keys):
    sign_package(pipeline_pkg, keys["alice"])
    path = attest_package(pipeline_pkg, keys["alice"], env={}).path
    body = base64.b64decode(read_line(path)["payload"])
    extra = sign_envelope(body, keys["mallory"]).signatures[0].to_dict()
    rewrite(path, lambda e: e["signatures"].append(extra))
    report = verify_package(pipeline_pkg, policy(keys, pipeline_pkg))
    assert report.ok and [f.code for f in report.warnings] == ["provenance-untrusted"]


# ------------------------------------------------------------------ at build time


def test_package_with_provenance_attests_the_final_signed_bytes(tmp_path, pipeline_project,
                                                                keys):
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/repo",
           "GITHUB_RUN_ID": "1234", "GITHUB_RUN_ATTEMPT": "2"}
    for var in ("CI_JOB_URL",):
        env[var] = ""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        result = build_package(pipeline_project, f"{tmp_path}/out/", sign_key=keys["alice"],
                               provenance=True)
    assert result.attestation is not None and result.signed is not None
    statement = verify_independently(result.attestation.path, keys["alice.pub"])
    assert statement["subject"][0]["digest"]["sha256"] == \
        hashlib.sha256(result.path.read_bytes()).hexdigest()  # after the embedded signature
    build = statement["predicate"]["buildDefinition"]
    meta = statement["predicate"]["runDetails"]["metadata"]
    assert meta["invocationId"] == "https://github.com/org/repo/actions/runs/1234/attempts/2"
    started, finished = (dt.datetime.strptime(meta[k], "%Y-%m-%dT%H:%M:%SZ")
                         for k in ("startedOn", "finishedOn"))
    assert started <= finished
    assert build["externalParameters"] == {
        "project": "data-pipeline", "format": "cloacina",
        "options": {"isolated": False, "nativeLib": None, "sign": True}}
    assert build["internalParameters"]["attestedAfterBuild"] is False
    tools = {d["name"]: d for d in build["resolvedDependencies"]}
    assert tools["python"]["digest"]["sha256"] == \
        hashlib.sha256(Path(sys.executable).resolve().read_bytes()).hexdigest()
    assert tools["hatchling.build"]["annotations"]["version"]
    assert verify_package(result.path, policy(keys, result.path)).ok


def test_package_provenance_needs_a_key_and_force_to_replace(tmp_path, pipeline_project,
                                                             keys):
    with pytest.raises(UsageError, match="--provenance needs --sign"):
        build_package(pipeline_project, f"{tmp_path}/out/", provenance=True)
    first = build_package(pipeline_project, f"{tmp_path}/out/", sign_key=keys["alice"],
                          provenance=True)
    with pytest.raises(UsageError) as info:
        build_package(pipeline_project, f"{tmp_path}/out/", sign_key=keys["alice"],
                      provenance=True)
    assert info.value.code == "exists" and "build provenance" in info.value.message
    again = build_package(pipeline_project, f"{tmp_path}/out/", sign_key=keys["bob"],
                          provenance=True, force=True)
    assert again.attestation is not None and again.attestation.replaced
    assert again.path == first.path
    assert verify_package(again.path, policy(keys, again.path)).provenance.signer == "bob"


def test_engine_format_provenance_names_no_backend(tmp_path, pipeline_project, keys):
    result = build_package(pipeline_project, f"{tmp_path}/out/", sign_key=keys["alice"],
                           provenance=True, format="engine")
    statement = verify_independently(result.attestation.path, keys["alice.pub"])
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"]["format"] == "engine"
    assert [d["name"] for d in build["resolvedDependencies"]
            if d["name"] != "source"] == ["cloacina-build", "python"]
    assert verify_package(result.path, policy(keys, result.path)).ok


def test_the_source_is_a_git_uri_without_credentials_and_the_path_is_repository_relative(
        tmp_path, keys):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "data-pipeline", repo / "flows" / "dp",
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    subprocess.run([*git, "remote", "add", "origin",
                    "https://ci-bot:s3cret-token@example.com/org/flows.git"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    result = build_package(repo / "flows" / "dp", f"{tmp_path}/out/", sign_key=keys["alice"],
                           provenance=True)
    payload = result.attestation.path.read_text()
    statement = verify_independently(result.attestation.path, keys["alice.pub"])
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"]["project"] == "flows/dp"
    (source,) = [d for d in build["resolvedDependencies"] if d["name"] == "source"]
    assert source["uri"] == "git+https://example.com/org/flows.git@refs/heads/main"
    assert source["digest"] == {"gitCommit": commit}
    assert "s3cret" not in payload and "s3cret" not in base64.b64decode(
        json.loads(payload)["payload"]).decode()
    assert str(tmp_path) not in base64.b64decode(json.loads(payload)["payload"]).decode()


def test_public_remote_forms():
    from cloacina_build.build.provenance import public_remote

    assert public_remote("https://u:p@host.example:8443/o/r.git") == \
        "https://host.example:8443/o/r.git"
    assert public_remote("git@github.com:o/r.git") == "ssh://git@github.com/o/r.git"
    assert public_remote("ssh://git@github.com/o/r.git") == "ssh://git@github.com/o/r.git"
    assert public_remote("ssh://git:pw@github.com/o/r.git") == "ssh://github.com/o/r.git"
    for local in ("/srv/git/r.git", "../r", "file:///srv/git/r.git"):
        assert public_remote(local) is None, local


def test_ci_environment_gives_the_invocation_id():
    github = {"GITHUB_SERVER_URL": "https://github.example/", "GITHUB_REPOSITORY": "o/r",
              "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "3"}
    assert ci_invocation(github) == "https://github.example/o/r/actions/runs/77/attempts/3"
    assert ci_invocation({**github, "GITHUB_RUN_ATTEMPT": ""}) == \
        "https://github.example/o/r/actions/runs/77"
    gitlab = {"CI_JOB_URL": "https://gitlab.example/o/r/-/jobs/99"}
    assert ci_invocation(gitlab) == "https://gitlab.example/o/r/-/jobs/99"
    assert ci_invocation({"GITHUB_REPOSITORY": "o/r"}) is None  # not a whole GitHub run
    assert ci_invocation({}) is None


def test_native_build_names_cargo_and_rustc(tmp_path, keys):
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed on this machine")
    from cloacina_build.project.scaffold import create_project

    crate = create_project("rusty-prov", template="rust", path=tmp_path / "rusty-prov")
    result = build_package(crate, f"{tmp_path}/out/", sign_key=keys["alice"], provenance=True)
    statement = verify_independently(result.attestation.path, keys["alice.pub"])
    tools = {d["name"]: d for d in statement["predicate"]["buildDefinition"]
             ["resolvedDependencies"]}
    rustc = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, cwd=crate).stdout
    release = next(line.split(": ")[1] for line in rustc.splitlines()
                   if line.startswith("release: "))
    assert tools["rustc"]["annotations"]["version"] == release
    assert tools["rustc"]["uri"] == f"pkg:generic/rustc@{release}"
    assert "gitCommit" in tools["rustc"]["digest"] and "cargo" in tools
    assert verify_package(result.path, policy(keys, result.path)).ok
