"""push and pull against a real registry (docker-registry, distribution 2.8: no referrers
API, so referrers go through the OCI 1.1 fallback tag): both formats, by tag and by digest,
byte for byte; the manifest's shape as another client (skopeo) sees it; the referrers
index; reproducible pushes; tampered blobs and swapped referrers refused with nothing
written."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import CloacinaError, PackageError
from cloacina_build.oci import (
    ARTIFACT_TYPE,
    PROVENANCE_TYPE,
    SIGNATURE_TYPE,
    Registry,
    pull_package,
    push_package,
    push_referrer,
    resolve,
)
from cloacina_build.oci.artifact import EMPTY_DESCRIPTOR, referrer_manifest
from cloacina_build.oci.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor
from cloacina_build.ops.attest import attest_package
from cloacina_build.ops.signing import sign_detached

from .conftest import EXAMPLES
from .keyring import key, make_keyring
from .oci_front import Front
from .registry import start_registry

MANIFEST_ACCEPT = {"Accept": OCI_MANIFEST}
@pytest.fixture(scope="module")
def built_engine(tmp_path_factory):
    out = tmp_path_factory.mktemp("engine") / "data-pipeline-1.0.0.cloacina"
    return build_package(EXAMPLES / "data-pipeline", out, format="engine").path


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):
    return make_keyring(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def own_registry(tmp_path):
    """A registry of this test's own, whose storage it may damage."""
    from .registry import missing

    if missing():
        pytest.skip(missing())
    reg = start_registry(tmp_path / "own-registry")
    yield reg
    reg.stop()


@pytest.fixture
def client():
    """Registry clients for a test, closed after it."""
    made: list[Registry] = []

    def make(host: str) -> Registry:
        made.append(Registry(host, plain_http=True))
        return made[-1]

    yield make
    for reg in made:
        reg.close()


def _manifest(registry, repo: str, ref: str) -> dict:
    status, headers, body = registry.get(f"/v2/{repo}/manifests/{ref}", MANIFEST_ACCEPT)
    assert status == 200, body
    return json.loads(body)


def _blob(registry, repo: str, digest: str) -> bytes:
    status, _, body = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert status == 200
    return body


def _nothing_in(directory) -> bool:
    return not directory.exists() or list(directory.iterdir()) == []


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fmt", ["cloacina", "engine"])
def test_push_then_pull_by_tag_and_by_digest_gives_the_same_bytes(
        fmt, built_pipeline, built_engine, registry, request, tmp_path):
    package = built_pipeline if fmt == "cloacina" else built_engine
    repo = registry.repo(request)
    pushed = push_package(package, registry.ref(repo), plain_http=True)
    assert pushed.reference == registry.ref(repo, "1.0.0")  # the version is the default tag
    assert pushed.uploaded == 2  # the package and its config
    by_tag = pull_package(registry.ref(repo, "1.0.0"), tmp_path / "tag", plain_http=True)
    by_digest = pull_package(registry.ref(repo, digest=pushed.digest), tmp_path / "digest",
                             plain_http=True)
    for pulled in (by_tag, by_digest):
        assert pulled.digest == pushed.digest
        assert pulled.format == fmt
        assert (pulled.name, pulled.version) == ("data-pipeline", "1.0.0")
        written = tmp_path / pulled.path
        assert written.read_bytes() == package.read_bytes()
        assert sorted(p.name for p in written.parent.iterdir()) == [package.name]
    assert resolve(registry.ref(repo, "1.0.0"), plain_http=True) == pushed.digest


@pytest.mark.parametrize("fmt,layer_type", [
    ("cloacina", "application/vnd.cloacina.package.v1.tar+zstd"),
    ("engine", "application/vnd.cloacina.engine.v1.tar+bzip2")])
def test_the_manifest_is_an_oci_artifact_with_the_package_as_its_one_layer(
        fmt, layer_type, built_pipeline, built_engine, registry, request):
    package = built_pipeline if fmt == "cloacina" else built_engine
    repo = registry.repo(request)
    pushed = push_package(package, registry.ref(repo, "v1"), plain_http=True,
                          source="https://example.com/team/pipeline")
    raw = _manifest(registry, repo, "v1")
    assert _sha(registry.get(f"/v2/{repo}/manifests/v1", MANIFEST_ACCEPT)[2]) == pushed.digest
    assert raw["schemaVersion"] == 2 and raw["mediaType"] == OCI_MANIFEST
    assert raw["artifactType"] == ARTIFACT_TYPE == "application/vnd.cloacina.package.v1"
    assert raw["config"]["mediaType"] == "application/vnd.cloacina.package.config.v1+json"
    [layer] = raw["layers"]
    data = package.read_bytes()
    assert layer == {"mediaType": layer_type, "digest": _sha(data), "size": len(data),
                     "annotations": {"org.opencontainers.image.title": package.name}}
    notes = raw["annotations"]
    assert notes["org.opencontainers.image.title"] == package.name
    assert notes["org.opencontainers.image.version"] == "1.0.0"
    assert notes["org.opencontainers.image.source"] == "https://example.com/team/pipeline"
    assert notes["org.opencontainers.image.created"] == "1980-01-01T00:00:00Z"
    config = json.loads(_blob(registry, repo, raw["config"]["digest"]))
    assert config["format"] == fmt
    assert config["package"]["name"] == "data-pipeline"
    assert config["workflow"]["tasks"] == ["collect_data", "generate_report", "process_data"]
    assert config["file"] == {"name": package.name, "size": len(data), "digest": _sha(data)}


def test_created_is_the_builds_source_date_epoch(pipeline_project, registry, request,
                                                tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    package = build_package(pipeline_project, tmp_path / "p.cloacina").path
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    repo = registry.repo(request)
    push_package(package, registry.ref(repo, "t"), plain_http=True)
    assert _manifest(registry, repo, "t")["annotations"][
        "org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"


def test_the_same_file_pushed_twice_gives_the_same_digest_and_sends_nothing_new(
        built_pipeline, registry, request):
    repo = registry.repo(request)
    first = push_package(built_pipeline, registry.ref(repo, "a"), plain_http=True)
    again = push_package(built_pipeline, registry.ref(repo, "a"), plain_http=True)
    other_tag = push_package(built_pipeline, registry.ref(repo, "b"), plain_http=True)
    assert first.digest == again.digest == other_tag.digest
    assert (again.uploaded, other_tag.uploaded) == (0, 0)


def test_a_version_with_a_plus_is_tagged_with_an_underscore(pipeline_project, registry,
                                                           request, tmp_path):
    toml = pipeline_project / "package.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.0.0+local.2"'))
    package = build_package(pipeline_project, tmp_path / "p.cloacina").path
    repo = registry.repo(request)
    pushed = push_package(package, registry.ref(repo), plain_http=True)
    assert pushed.reference.endswith(":1.0.0_local.2")
    assert _manifest(registry, repo, "1.0.0_local.2")["annotations"][
        "org.opencontainers.image.version"] == "1.0.0+local.2"


def test_skopeo_sees_the_manifest_and_the_referrers(pipeline_pkg, registry, request,
                                                    keyring):
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo not found on PATH (Debian: apt-get install skopeo)")
    sign_detached(pipeline_pkg, key(keyring, "alice"))
    repo = registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)

    def inspect_raw(ref: str) -> dict:
        done = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false",
                               f"docker://{registry.host}/{repo}{ref}"],
                              capture_output=True, timeout=120, check=True)
        return json.loads(done.stdout)

    seen = inspect_raw(":1.0.0")
    assert seen == _manifest(registry, repo, "1.0.0")
    assert seen["artifactType"] == ARTIFACT_TYPE
    index = inspect_raw(":" + pushed.digest.replace(":", "-"))
    assert [m["artifactType"] for m in index["manifests"]] == [SIGNATURE_TYPE]
    referrer = inspect_raw("@" + pushed.referrers[0].digest)
    assert referrer["subject"]["digest"] == pushed.digest


def test_sig_and_provenance_beside_the_file_are_pushed_as_referrers_in_the_fallback_index(
        pipeline_pkg, registry, request, keyring, tmp_path):
    sig = sign_detached(pipeline_pkg, key(keyring, "alice")).path
    intoto = attest_package(pipeline_pkg, key(keyring, "alice"), env={}).path
    attestation = intoto.read_bytes()
    repo = registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    assert [r.artifact_type for r in pushed.referrers] == [SIGNATURE_TYPE, PROVENANCE_TYPE]

    tag = pushed.digest.replace(":", "-")
    status, headers, body = registry.get(f"/v2/{repo}/manifests/{tag}",
                                         {"Accept": OCI_INDEX})
    assert status == 200 and headers["Content-Type"] == OCI_INDEX
    index = json.loads(body)
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    entries = {m["artifactType"]: m for m in index["manifests"]}
    assert set(entries) == {SIGNATURE_TYPE, PROVENANCE_TYPE}
    package_size = len(registry.get(f"/v2/{repo}/manifests/1.0.0", MANIFEST_ACCEPT)[2])
    for artifact_type, file, layer_type in [
            (SIGNATURE_TYPE, sig, "application/vnd.cloacina.signature.v1+json"),
            (PROVENANCE_TYPE, intoto, "application/vnd.dsse.envelope.v1+json")]:
        entry = entries[artifact_type]
        assert entry["mediaType"] == OCI_MANIFEST
        assert entry["annotations"] == {"org.opencontainers.image.title": file.name}
        raw = _manifest(registry, repo, entry["digest"])
        assert raw["artifactType"] == artifact_type
        assert raw["subject"] == {"mediaType": OCI_MANIFEST, "digest": pushed.digest,
                                  "size": package_size}
        assert raw["config"] == {"mediaType": "application/vnd.oci.empty.v1+json",
                                 "digest": EMPTY_DESCRIPTOR.digest, "size": 2}
        assert _blob(registry, repo, raw["config"]["digest"]) == b"{}"
        [layer] = raw["layers"]
        assert layer["mediaType"] == layer_type
        assert _blob(registry, repo, layer["digest"]) == file.read_bytes()

    pulled = pull_package(registry.ref(repo, "1.0.0"), tmp_path / "out", plain_http=True)
    out = tmp_path / "out"
    assert (out / sig.name).read_bytes() == sig.read_bytes()
    assert (out / intoto.name).read_bytes() == attestation
    assert (pulled.signature, pulled.provenance) == (str(out / sig.name), str(out / intoto.name))


@pytest.mark.parametrize("stale", ["sig", "intoto"])
def test_a_signature_or_attestation_of_other_bytes_is_not_published(
        stale, pipeline_pkg, built_etl, registry, request, keyring, tmp_path):
    """Found by a new user: attest, then re-sign --force (new bytes), then push published
    an attestation every consumer then refused; now nothing is tagged."""
    signer, other = key(keyring, "alice"), tmp_path / "other" / built_etl.name
    other.parent.mkdir()
    other.write_bytes(built_etl.read_bytes())
    sidecar = sign_detached(other, signer).path if stale == "sig" else \
        attest_package(other, signer, env={}).path  # made for another package
    beside = pipeline_pkg.with_name(pipeline_pkg.name + sidecar.name.removeprefix(other.name))
    beside.write_bytes(sidecar.read_bytes())
    repo = registry.repo(request)
    with pytest.raises(PackageError) as caught:
        push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    assert caught.value.code == {"sig": "signature-wrong-package",
                                 "intoto": "provenance-subject-mismatch"}[stale]
    assert str(beside) in caught.value.message and "nothing was tagged" in caught.value.message
    assert registry.get(f"/v2/{repo}/manifests/1.0.0", MANIFEST_ACCEPT)[0] == 404


def test_every_bad_sidecar_is_named_at_once_and_a_malformed_one_before_any_upload(
        pipeline_pkg, built_etl, registry, request, keyring, tmp_path):
    """Found by review: only the first stale sidecar was named (a second refusal followed
    the fix), and a malformed one was found only after the whole package was sent."""
    signer, other = key(keyring, "alice"), tmp_path / "other" / built_etl.name
    other.parent.mkdir()
    other.write_bytes(built_etl.read_bytes())
    sig = sign_detached(other, signer).path
    intoto = attest_package(other, signer, env={}).path
    for sidecar in (sig, intoto):
        pipeline_pkg.with_name(pipeline_pkg.name + sidecar.name.removeprefix(other.name)) \
            .write_bytes(sidecar.read_bytes())
    repo = registry.repo(request)
    with pytest.raises(PackageError) as caught:
        push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    assert caught.value.message.endswith(" are not about this package; nothing was tagged")
    assert {f.code for f in caught.value.findings} == {"signature-wrong-package",
                                                       "provenance-subject-mismatch"}
    pipeline_pkg.with_name(pipeline_pkg.name + ".intoto.jsonl").write_bytes(b"{not json")
    with Front(registry) as front:
        with pytest.raises(PackageError) as caught:
            push_package(pipeline_pkg, f"oci://{front.host}/{repo}:1.0.0", plain_http=True)
    assert caught.value.message.endswith(
        "is not a signature or attestation this tool can read; nothing was sent")
    assert front.seen == []  # not one request


def test_push_referrer_adds_to_the_index_and_pull_takes_the_newest(
        pipeline_pkg, registry, request, keyring, tmp_path, client):
    repo = registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    assert pushed.referrers == []
    alice = sign_detached(pipeline_pkg, key(keyring, "alice"), out=tmp_path / "a.sig").path
    bob = sign_detached(pipeline_pkg, key(keyring, "bob"), out=tmp_path / "b.sig").path
    first = push_referrer(registry.ref(repo, "1.0.0"), alice, SIGNATURE_TYPE, plain_http=True)
    again = push_referrer(registry.ref(repo, "1.0.0"), alice, SIGNATURE_TYPE, plain_http=True)
    assert first.digest == again.digest and first.subject == pushed.digest
    push_referrer(registry.ref(repo, digest=pushed.digest), bob, SIGNATURE_TYPE,
                  plain_http=True)
    reg = client(registry.host)
    listed = reg.referrers(repo, pushed.digest, SIGNATURE_TYPE)
    assert [d.annotation("org.opencontainers.image.title") for d in listed] == \
        ["a.sig", "b.sig"]  # the same referrer twice is listed once
    pulled = pull_package(registry.ref(repo, "1.0.0"), tmp_path / "out",
                          trust=keyring["trusted_dir"], plain_http=True)
    assert pulled.verified and pulled.signed_by == ["bob"]
    assert (tmp_path / "out" / (pipeline_pkg.name + ".sig")).read_bytes() == bob.read_bytes()


def test_pull_with_trust_verifies_before_writing(pipeline_pkg, registry, request, keyring,
                                                 tmp_path):
    sign_detached(pipeline_pkg, key(keyring, "alice"))
    repo = registry.repo(request)
    push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    pulled = pull_package(registry.ref(repo, "1.0.0"), tmp_path / "out",
                          trust=keyring["trusted_dir"], plain_http=True)
    assert pulled.verified and pulled.signed_by == ["alice"]

    untrusted = tmp_path / "nobody"
    untrusted.mkdir()
    shutil.copy(keyring["mallory"][1], untrusted)
    with pytest.raises(PackageError) as caught:
        pull_package(registry.ref(repo, "1.0.0"), tmp_path / "refused", trust=untrusted,
                     plain_http=True)
    assert caught.value.code == "pull-unverified"
    assert _nothing_in(tmp_path / "refused")
    assert caught.value.findings
    said = " ".join(f"{f.location} {f.message}" for f in caught.value.findings)
    assert ".cloacina-pull-" not in said  # the private copy's name is never shown


def test_a_swapped_referrer_is_refused_under_trust_and_nothing_is_written(
        pipeline_pkg, built_etl, registry, request, keyring, tmp_path):
    sign_detached(pipeline_pkg, key(keyring, "alice"))
    repo = registry.repo(request)
    push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    # mallory's signature, then a trusted key's signature of other bytes, put in its place
    for name, signed in [("mallory", pipeline_pkg), ("bob", built_etl)]:
        fake = sign_detached(signed, key(keyring, name), out=tmp_path / f"{name}.sig").path
        push_referrer(registry.ref(repo, "1.0.0"), fake, SIGNATURE_TYPE, plain_http=True)
        out = tmp_path / f"out-{name}"
        with pytest.raises(PackageError) as caught:
            pull_package(registry.ref(repo, "1.0.0"), out, trust=keyring["trusted_dir"],
                         plain_http=True)
        assert caught.value.code == "pull-unverified"
        codes = {f.code for f in caught.value.findings}
        assert codes & {"signature-untrusted", "signature-wrong-package"}, codes
        assert _nothing_in(out)


def test_a_referrer_listed_for_another_package_is_refused(pipeline_pkg, built_etl, registry,
                                                          request, keyring, tmp_path, client):
    repo = registry.repo(request)
    pkg = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    other = push_package(built_etl, registry.ref(repo, "etl"), plain_http=True)
    sig = sign_detached(built_etl, key(keyring, "alice"), out=tmp_path / "etl.sig").path
    ref = push_referrer(registry.ref(repo, "etl"), sig, SIGNATURE_TYPE, plain_http=True)
    # the fallback index of the package now lists the other package's referrer
    reg = client(registry.host)
    entry = reg.fallback_index(repo, other.digest).manifests[0]
    reg.push_referrer_manifest(repo, reg.get_manifest(repo, ref.digest).data, entry,
                               pkg.digest)
    with pytest.raises(PackageError) as caught:
        pull_package(registry.ref(repo, "1.0.0"), tmp_path / "out", plain_http=True)
    assert caught.value.code == "oci-manifest" and "another subject" in caught.value.message
    assert _nothing_in(tmp_path / "out")


@pytest.mark.parametrize("what", ["package", "config", "signature"])
def test_a_tampered_blob_in_the_registry_is_refused_and_nothing_is_written(
        what, pipeline_pkg, own_registry, keyring, tmp_path):
    sign_detached(pipeline_pkg, key(keyring, "alice"))
    pushed = push_package(pipeline_pkg, own_registry.ref("team/p", "1.0.0"), plain_http=True)
    raw = _manifest(own_registry, "team/p", "1.0.0")
    digest = {"package": raw["layers"][0]["digest"], "config": raw["config"]["digest"],
              "signature": _manifest(own_registry, "team/p", pushed.referrers[0].digest)[
                  "layers"][0]["digest"]}[what]
    stored = own_registry.blob_path(digest)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # the same length, one bit different
    stored.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(PackageError) as caught:
        pull_package(own_registry.ref("team/p", "1.0.0"), out, plain_http=True)
    assert caught.value.code == "oci-digest-mismatch"
    assert digest in caught.value.message
    assert _nothing_in(out)


@pytest.mark.parametrize("title", ["../../evil.cloacina", ".hidden.cloacina", "notes.txt",
                                   "a/b.cloacina", "x\n.cloacina", ""])
def test_a_hostile_title_cannot_choose_where_the_file_goes(title, built_pipeline, registry,
                                                           request, tmp_path, client):
    repo = registry.repo(request)
    pushed = push_package(built_pipeline, registry.ref(repo, "1.0.0"), plain_http=True)
    reg = client(registry.host)
    raw = _manifest(registry, repo, "1.0.0")
    raw["layers"][0]["annotations"]["org.opencontainers.image.title"] = title
    reg.put_manifest(repo, "evil", json.dumps(raw).encode(), OCI_MANIFEST)
    pulled = pull_package(registry.ref(repo, "evil"), tmp_path / "out", plain_http=True)
    assert pulled.path == str(tmp_path / "out" / "data-pipeline-1.0.0.cloacina")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == \
        ["data-pipeline-1.0.0.cloacina"]
    assert pulled.digest != pushed.digest


def test_pull_removes_a_stale_signature_beside_the_package(built_pipeline, registry, request,
                                                           tmp_path):
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1.0.0"), plain_http=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / (built_pipeline.name + ".sig")).write_text("old")
    pulled = pull_package(registry.ref(repo, "1.0.0"), out, plain_http=True)
    assert pulled.removed == [str(out / (built_pipeline.name + ".sig"))]
    assert [p.name for p in out.iterdir()] == [built_pipeline.name]


def test_pull_refuses_an_artifact_that_is_not_a_package(registry, request, tmp_path, client):
    repo = registry.repo(request)
    reg = client(registry.host)
    layer = b"not a package"
    reg.push_blob(repo, layer, _sha(layer))
    reg.push_blob(repo, b"{}", EMPTY_DESCRIPTOR.digest)
    other = referrer_manifest(EMPTY_DESCRIPTOR, "application/vnd.example.thing",
                              Descriptor.of("application/octet-stream", layer))
    other = type(other)(other.config, other.layers, other.artifact_type)
    reg.put_manifest(repo, "thing", other.to_bytes(), OCI_MANIFEST)
    with pytest.raises(PackageError) as caught:
        pull_package(registry.ref(repo, "thing"), tmp_path / "out", plain_http=True)
    assert caught.value.code == "oci-not-package"
    assert not (tmp_path / "out").exists()


def test_missing_tags_and_repositories_are_one_error(registry, request, tmp_path):
    repo = registry.repo(request)
    with pytest.raises(CloacinaError) as caught:
        pull_package(registry.ref(repo, "nope"), tmp_path / "out", plain_http=True)
    assert caught.value.code == "oci-not-found" and caught.value.exit_code == 2
    assert "MANIFEST_UNKNOWN" in caught.value.message or "NAME_UNKNOWN" in \
        caught.value.message


def test_under_trust_the_config_must_name_the_package_it_describes(
        pipeline_pkg, registry, request, keyring, tmp_path, client):
    """A trusted signature over the file does not vouch for metadata beside it."""
    sig = sign_detached(pipeline_pkg, key(keyring, "alice")).path
    repo = registry.repo(request)
    push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    reg = client(registry.host)
    raw = _manifest(registry, repo, "1.0.0")
    config = json.loads(_blob(registry, repo, raw["config"]["digest"]))
    config["package"]["name"] = "payroll"
    forged = json.dumps(config).encode()
    reg.push_blob(repo, forged, _sha(forged))
    raw["config"].update(digest=_sha(forged), size=len(forged))
    reg.put_manifest(repo, "forged", json.dumps(raw).encode(), OCI_MANIFEST)
    push_referrer(registry.ref(repo, "forged"), sig, SIGNATURE_TYPE, plain_http=True)
    with pytest.raises(PackageError) as caught:
        pull_package(registry.ref(repo, "forged"), tmp_path / "out",
                     trust=keyring["trusted_dir"], plain_http=True)
    assert caught.value.code == "oci-manifest"
    assert "config says payroll 1.0.0 but the package is data-pipeline" in \
        caught.value.message
    assert _nothing_in(tmp_path / "out")


def test_a_registry_with_the_referrers_api_gets_no_fallback_tag(
        pipeline_pkg, registry, request, keyring, tmp_path, client):

    sig = sign_detached(pipeline_pkg, key(keyring, "alice")).path
    repo = registry.repo(request)
    with Front(registry, referrers_api=True) as front:
        ref = f"oci://{front.host}/{repo}:1.0.0"
        pushed = push_package(pipeline_pkg, ref, plain_http=True)
        listed = client(front.host).referrers(repo, pushed.digest, SIGNATURE_TYPE)
        pulled = pull_package(ref, tmp_path / "out", trust=keyring["trusted_dir"],
                              plain_http=True)
    tag = pushed.digest.replace(":", "-")
    assert registry.get(f"/v2/{repo}/manifests/{tag}", {"Accept": OCI_INDEX})[0] == 404
    assert [d.digest for d in listed] == [pushed.referrers[0].digest]
    assert any("/referrers/" in path for _, path, _ in front.seen)
    assert not any(tag in path for _, path, _ in front.seen)
    assert pulled.verified and Path(pulled.signature).read_bytes() == sig.read_bytes()
