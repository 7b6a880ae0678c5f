"""``oci://`` references where a package file is expected, against a real registry
(docker-registry, distribution 2.8: referrers through the fallback tag): ``run``,
``inspect``, ``validate``, ``verify`` and ``load_package`` through the content-addressed
cache (a second use downloads nothing; a cached digest needs no registry at all; a moved
tag is fetched anew), ``sign --detached oci://`` and ``attest oci://`` (skopeo sees the
referrers), and what is refused: a tampered blob (nothing cached), a swapped referrer
under ``--trust``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.errors import PackageError, UsageError
from cloacina_build.oci import SIGNATURE_TYPE, Registry, push_package, push_referrer
from cloacina_build.oci.local import fetch_reference, oci_cache_dir
from cloacina_build.ops.signing import sign_detached
from cloacina_build.runtime.loader import load_package

from .keyring import key, make_keyring, trusted
from .oci_front import Front
from .registry import missing, start_registry

EXE = str(Path(sys.executable).with_name("cloacinactl"))


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):
    return make_keyring(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def own_registry(tmp_path):
    """A registry of this test's own: its storage may be damaged, it may be stopped."""
    if missing():
        pytest.skip(missing())
    reg = start_registry(tmp_path / "own-registry")
    yield reg
    reg.stop()


def ctl(*args: str, cache: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLOACINA_CACHE_DIR": str(cache), "NO_COLOR": "1"}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=300)


def signed_push(pkg: Path, registry, repo: str, keyring, signer: str = "alice"):
    """``pkg`` signed --detached by ``signer`` and pushed (the .sig as a referrer)."""
    sign_detached(pkg, key(keyring, signer), force=True)
    return push_package(pkg, registry.ref(repo, "1.0.0"), plain_http=True)


def blob_gets(front: Front) -> list[str]:
    return [path for method, path, _ in front.seen if method == "GET" and "/blobs/" in path]


def entries(cache: Path, registry, repo: str) -> list[str]:
    """What the cache holds for one repository of ``registry``."""
    root = oci_cache_dir(cache) / registry.host / repo
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def cached_files(cache: Path) -> list[str]:
    """Every file in the references' cache but the locks."""
    return sorted(str(p.relative_to(cache)) for p in oci_cache_dir(cache).rglob("*")
                  if p.is_file() and not p.name.endswith(".lock"))


def test_run_straight_from_the_registry_then_from_the_cache(
        pipeline_pkg, registry, request, keyring, cache):
    repo = registry.repo(request)
    signed_push(pipeline_pkg, registry, repo, keyring)
    with Front(registry) as front:
        ref = f"oci://{front.host}/{repo}:1.0.0"
        args = ("run", ref, "--trust", str(keyring["trusted_dir"]), "--plain-http")
        first = ctl(*args, cache=cache)
        assert first.returncode == 0, first.stderr
        assert "data_pipeline: completed" in first.stdout
        assert "fetched into the cache, with its signature" in first.stderr
        fetched = blob_gets(front)
        assert any(pipeline_sha(pipeline_pkg) in path for path in fetched)  # the package
        # the referrers (distribution 2.8: the fallback tag) are listed once, by the pull
        listings = [p for m, p, _ in front.seen if m == "GET" and "/manifests/sha256-" in p]
        assert len(listings) == 1, front.seen
        front.seen.clear()
        second = ctl(*args, "--json", cache=cache)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["status"] == "completed"
        # the tag is resolved and the referrers listed again; no blob is downloaded again
        assert blob_gets(front) == []
        assert {m for m, _, _ in front.seen} == {"GET"} and len(front.seen) <= 3, front.seen
    third = ctl("run", ref, "--trust", str(keyring["trusted_dir"]), "--plain-http",
                cache=cache)  # the front is gone, the tag cannot be resolved: one error
    assert third.returncode == 2 and third.stderr.startswith("error: ")
    assert "hint: " in third.stderr and "Traceback" not in third.stderr


def pipeline_sha(pkg: Path) -> str:
    import hashlib

    return hashlib.sha256(pkg.read_bytes()).hexdigest()


def test_a_cached_digest_needs_no_registry(pipeline_pkg, own_registry, keyring, cache):
    pushed = signed_push(pipeline_pkg, own_registry, "team/p", keyring)
    ref = own_registry.ref("team/p", digest=pushed.digest)
    assert ctl("run", ref, "--plain-http", cache=cache).returncode == 0
    own_registry.stop()
    again = ctl("run", ref, "--trust", str(keyring["trusted_dir"]), "--plain-http", "--json",
                cache=cache)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "completed"
    local = fetch_reference(ref, cache_dir=cache, plain_http=True)
    assert not local.downloaded and local.signature is not None
    assert local.path.read_bytes() == pipeline_pkg.read_bytes()


def test_inspect_validate_and_verify_take_a_reference(pipeline_pkg, registry, request,
                                                      keyring, cache, tmp_path):
    repo = registry.repo(request)
    pushed = signed_push(pipeline_pkg, registry, repo, keyring)
    ref = registry.ref(repo, "1.0.0")
    inspected = ctl("inspect", ref, "--plain-http", "--json", cache=cache)
    assert inspected.returncode == 0, inspected.stderr
    info = json.loads(inspected.stdout)
    assert (info["package"]["name"], info["package"]["version"]) == ("data-pipeline", "1.0.0")
    assert inspected.stderr == ""  # --json: nothing but the object, not even the notice
    validated = ctl("validate", ref, "--plain-http", cache=cache)
    assert validated.returncode == 0 and "valid" in validated.stdout, validated.stderr
    assert "from the cache" in validated.stderr  # inspect fetched it
    verified = ctl("verify", registry.ref(repo, digest=pushed.digest), "--trust",
                   str(keyring["trusted_dir"]), "--plain-http", cache=cache)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified: data-pipeline 1.0.0, signed by alice" in verified.stdout
    assert "detached" in verified.stdout  # the registry's .sig, beside the cached file
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    shutil.copy(keyring["mallory"][1], nobody)
    refused = ctl("verify", ref, "--trust", str(nobody), "--plain-http", cache=cache)
    assert refused.returncode == 1 and "not verified" in refused.stdout


def test_load_package_takes_a_reference_and_its_signature_referrer(
        pipeline_pkg, registry, request, keyring, cache):
    repo = registry.repo(request)
    signed_push(pipeline_pkg, registry, repo, keyring, signer="bob")
    ref = registry.ref(repo, "1.0.0")
    with load_package(ref, trust=trusted(keyring), cache_dir=cache, plain_http=True) as first:
        assert first.name == "data-pipeline" and first.verified_by == ["bob"]
        assert not first.warm
    with load_package(ref, trust=trusted(keyring), cache_dir=cache, plain_http=True) as again:
        assert again.warm and again.verified_by == ["bob"]
        assert again.function("collect_data") is not None


def test_a_moved_tag_is_fetched_anew(pipeline_pkg, built_etl, registry, request, cache):
    repo = registry.repo(request)
    first = push_package(pipeline_pkg, registry.ref(repo, "stable"), plain_http=True)
    a = fetch_reference(registry.ref(repo, "stable"), cache_dir=cache, plain_http=True)
    second = push_package(built_etl, registry.ref(repo, "stable"), plain_http=True)
    b = fetch_reference(registry.ref(repo, "stable"), cache_dir=cache, plain_http=True)
    assert (a.digest, b.digest) == (first.digest, second.digest)
    assert a.downloaded and b.downloaded
    assert b.path.read_bytes() == built_etl.read_bytes()
    assert a.path.read_bytes() == pipeline_pkg.read_bytes()  # the old digest's entry stays
    assert entries(cache, registry, repo) == sorted(
        ["." + d.replace(":", "-") + ".lock" for d in (a.digest, b.digest)] +
        [d.replace(":", "-") for d in (a.digest, b.digest)])


def test_one_package_in_two_repositories_keeps_each_ones_referrers(
        pipeline_pkg, registry, request, keyring, cache):
    """Referrers belong to a manifest in a repository: the same bytes pushed to a staging
    and a release repository, signed only in the latter, are cached once for each."""
    staging, release = registry.repo(request), registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(staging, "1.0.0"), plain_http=True)
    signed = signed_push(pipeline_pkg, registry, release, keyring)
    assert signed.digest == pushed.digest  # the same manifest, byte for byte
    for _ in range(2):  # in turn, twice: neither use takes the other's referrers away
        a = fetch_reference(registry.ref(release, "1.0.0"), cache_dir=cache, plain_http=True)
        b = fetch_reference(registry.ref(staging, "1.0.0"), cache_dir=cache, plain_http=True)
        assert a.signature is not None and b.signature is None
        assert not a.refreshed and not b.refreshed
    assert a.path.parent != b.path.parent
    assert a.path.read_bytes() == b.path.read_bytes() == pipeline_pkg.read_bytes()


def test_a_damaged_cache_entry_is_fetched_again(pipeline_pkg, registry, request, cache):
    repo = registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    ref = registry.ref(repo, digest=pushed.digest)
    local = fetch_reference(ref, cache_dir=cache, plain_http=True)
    data = bytearray(local.path.read_bytes())
    data[-1] ^= 0xFF
    local.path.write_bytes(bytes(data))  # the same size, another byte: another ctime
    again = fetch_reference(ref, cache_dir=cache, plain_http=True)
    assert again.downloaded and again.path.read_bytes() == pipeline_pkg.read_bytes()
    (again.path.parent / "extra.sig").write_text("{}")  # a file the registry did not send
    third = fetch_reference(ref, cache_dir=cache, plain_http=True)
    assert third.downloaded and not (third.path.parent / "extra.sig").exists()


def test_a_tampered_blob_is_refused_and_nothing_is_cached(pipeline_pkg, own_registry, cache):
    pushed = push_package(pipeline_pkg, own_registry.ref("team/p", "1.0.0"), plain_http=True)
    layer = json.loads(own_registry.get(
        f"/v2/team/p/manifests/{pushed.digest}",
        {"Accept": "application/vnd.oci.image.manifest.v1+json"})[2])["layers"][0]["digest"]
    stored = own_registry.blob_path(layer)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    proc = ctl("run", own_registry.ref("team/p", "1.0.0"), "--plain-http", cache=cache)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: blob {layer}") and "hint: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert cached_files(cache) == []
    with pytest.raises(PackageError) as caught:
        load_package(own_registry.ref("team/p", "1.0.0"), cache_dir=cache, plain_http=True)
    assert caught.value.code == "oci-digest-mismatch"


def test_a_swapped_referrer_is_refused_under_trust(pipeline_pkg, built_etl, registry, request,
                                                   keyring, cache, tmp_path):
    repo = registry.repo(request)
    signed_push(pipeline_pkg, registry, repo, keyring)
    ref = registry.ref(repo, "1.0.0")
    trust = ("--trust", str(keyring["trusted_dir"]), "--plain-http")
    assert ctl("run", ref, *trust, cache=cache).returncode == 0  # alice's: cached
    # a trusted key's signature of other bytes pushed as the newest signature referrer:
    # the tag is resolved again, the referrers listed again, and the swap is seen
    fake = sign_detached(built_etl, key(keyring, "bob"), out=tmp_path / "fake.sig").path
    push_referrer(ref, fake, SIGNATURE_TYPE, plain_http=True)
    for command in ("run", "verify"):
        proc = ctl(command, ref, *trust, cache=cache)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "signature-wrong-package" in proc.stdout + proc.stderr
        # messages name the reference, never the cache's files (found by a new user)
        assert str(cache) not in proc.stdout + proc.stderr
        assert f"the signature of {ref}@sha256:" in proc.stdout + proc.stderr
        if command == "run":
            assert "from the cache, its referrers fetched again" in proc.stderr
    with pytest.raises(PackageError) as caught:
        load_package(ref, trust=trusted(keyring), cache_dir=cache, plain_http=True)
    assert caught.value.code == "load-refused"


def test_a_referrer_of_another_package_is_refused(pipeline_pkg, built_etl, registry, request,
                                                  keyring, cache, tmp_path):
    repo = registry.repo(request)
    pkg = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    other = push_package(built_etl, registry.ref(repo, "etl"), plain_http=True)
    sig = sign_detached(built_etl, key(keyring, "alice"), out=tmp_path / "etl.sig").path
    listed = push_referrer(registry.ref(repo, "etl"), sig, SIGNATURE_TYPE, plain_http=True)
    reg = Registry(registry.host, plain_http=True)
    entry = reg.fallback_index(repo, other.digest).manifests[0]
    reg.push_referrer_manifest(repo, reg.get_manifest(repo, listed.digest).data, entry,
                               pkg.digest)
    proc = ctl("verify", registry.ref(repo, "1.0.0"), "--trust", str(keyring["trusted_dir"]),
               "--plain-http", cache=cache)
    assert proc.returncode == 1 and "names another subject" in proc.stderr, proc.stderr
    assert entries(cache, registry, repo) == ["." + pkg.digest.replace(":", "-") + ".lock"]
    assert cached_files(cache) == []


def test_sign_and_attest_a_reference_and_skopeo_sees_the_referrers(
        pipeline_pkg, registry, request, keyring, cache):
    repo = registry.repo(request)
    pushed = push_package(pipeline_pkg, registry.ref(repo, "1.0.0"), plain_http=True)
    ref = registry.ref(repo, "1.0.0")
    alice = str(keyring["alice.key"])
    embedded = ctl("sign", ref, "--key", alice, "--plain-http", cache=cache)
    assert embedded.returncode == 2 and "--detached" in embedded.stderr
    signed = ctl("sign", "--detached", ref, "--key", alice, "--plain-http", "--json",
                 cache=cache)
    assert signed.returncode == 0, signed.stderr
    sig = json.loads(signed.stdout)
    assert sig["referrer"]["subject"] == pushed.digest and sig["signature"]["signer"] == "alice"
    again = ctl("sign", "--detached", ref, "--key", alice, "--plain-http", cache=cache)
    assert again.returncode == 2 and "already has a signature referrer" in again.stderr
    attested = ctl("attest", ref, "--key", alice, "--plain-http", cache=cache)
    assert attested.returncode == 0, attested.stderr
    assert "pushed it as referrer" in attested.stdout
    verified = ctl("verify", registry.ref(repo, digest=pushed.digest), "--trust",
                   str(keyring["trusted_dir"]), "--provenance", "--plain-http", cache=cache)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "build provenance verified" in verified.stdout
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (Debian: apt-get install skopeo)")
    index = skopeo_raw(f"{registry.host}/{repo}:{pushed.digest.replace(':', '-')}")
    kinds = {m["artifactType"]: m["digest"] for m in index["manifests"]}
    assert set(kinds) == {SIGNATURE_TYPE, "application/vnd.in-toto+json"}
    for digest in kinds.values():
        referrer = skopeo_raw(f"{registry.host}/{repo}@{digest}")
        assert referrer["subject"]["digest"] == pushed.digest


def skopeo_raw(where: str) -> dict:
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{where}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_registry_options_need_a_reference(pipeline_pkg, cache):
    proc = ctl("inspect", str(pipeline_pkg), "--plain-http", cache=cache)
    assert proc.returncode == 2 and "apply only to an oci:// reference" in proc.stderr
    bad = ctl("run", "oci://127.0.0.1:1/UPPER:1", cache=cache)
    assert bad.returncode == 2 and "not a valid OCI reference" in bad.stderr
    assert "hint: " in bad.stderr
    with pytest.raises(UsageError) as caught:
        fetch_reference("oci://127.0.0.1:1/team/p", cache_dir=cache)
    assert caught.value.code == "oci-reference"  # no tag and no digest: nothing to fetch


def test_pulling_imports_neither_the_package_readers_nor_urllib3_before_it_needs_them():
    """What a command imports is time before any byte moves (bench/oci.py): pulling needs
    no package reader (ops.describe imports them all), and loading a local file needs no
    HTTP client at all."""
    code = ("import sys, cloacina_build.oci.pull, cloacina_build.runtime.loader\n"
            "import cloacina_build.cli.main\n"
            "print(sorted(m for m in ('cloacina_build.ops.describe', 'cloacina_build.oci')\n"
            "             if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["['cloacina_build.oci']"]
    probe = ("import sys, cloacina_build.runtime.loader, cloacina_build.cli.main\n"
             "print('urllib3' in sys.modules, 'cloacina_build.oci' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]
    from cloacina_build.oci import artifact
    from cloacina_build.ops import describe

    assert (artifact.CLOACINA, artifact.ENGINE) == (describe.CLOACINA, describe.ENGINE)


@pytest.mark.parametrize("command", ["run", "inspect", "validate", "verify", "sign", "attest"])
def test_a_mistyped_reference_is_called_one(command, tmp_path):
    """Found by a new user: 'oci:/host/repo:1' was 'no such file' (and with --plain-http,
    'these options apply only to an oci:// reference')."""
    key = ["--key", "ci.key"] if command in ("sign", "attest") else []  # checked after
    for args in (key, [*key, "--plain-http"]):
        done = subprocess.run([EXE, command, "oci:/localhost:5077/acme/x:1", *args],
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: 'oci:/localhost:5077/acme/x:1' is not a valid "
                                      "OCI reference: it must start with oci://"), done.stderr
    (tmp_path / "oci:odd.cloacina").write_bytes(b"not a package")  # a file of that name
    done = subprocess.run([EXE, "inspect", "oci:odd.cloacina"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert "OCI reference" not in done.stderr and done.returncode == 1


def test_show_as_names_whole_paths_only():
    """Found by review: a provenance that was never fetched (so not registered) came out
    as 'oci://…@sha256:….intoto.jsonl', the package's path replaced inside it."""
    from cloacina_build.cli import terminal

    ref, p = "oci://h/r@sha256:" + "1" * 64, "/cache/P.cloacina"
    terminal.show_as({p: ref, p + ".sig": f"the signature of {ref}"})
    try:
        assert terminal.printable(f"{p}: bad") == f"{ref}: bad"
        assert terminal.printable(f"{p}.sig: x") == f"the signature of {ref}: x"
        for other in (f"{p}.intoto.jsonl", f"{p}.bak", f"{p}2", f"{p}-x"):
            assert terminal.printable(other) == other
    finally:
        terminal.show_as({})
    assert terminal.printable(p) == p


@pytest.mark.parametrize("text,suggested", [
    ("127.0.0.1:5095/acme/etl:0.1.0", True), ("ghcr.io/acme/etl:1", True),
    ("localhost/acme/etl@sha256:" + "a" * 64, True), ("dist/etl.cloacina", False),
    ("build.out/etl.cloacina", False), ("etl", False),
])
def test_a_reference_without_oci_is_told_how_to_write_one(text, suggested, tmp_path):
    """Found by the second new-user trial: '127.0.0.1:5095/acme/etl:0.1.0' was only
    'no such file' (the oci:// left out)."""
    for command in ("run", "inspect"):
        done = subprocess.run([EXE, command, text], capture_output=True, text=True,
                              cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.startswith(f"error: no such file: {text}")
        assert (f"hint: to use a package in a registry, write oci://{text}" in done.stderr) \
            == suggested, done.stderr
