"""How transfers behave when the network or the registry does not: 503s retried with
backoff, broken uploads started again, chunked uploads, an unreachable registry, TLS to a
plain-HTTP registry, Ctrl-C in the middle of a pull; and the commands end to end."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cloacina_build.errors import CloacinaError, UsageError
from cloacina_build.oci import Registry, pull_package, push_package
from cloacina_build.oci.transport import Transport, default_retry

from .oci_front import Front

EXE = str(Path(sys.executable).with_name("cloacinactl"))


@pytest.fixture
def fast():
    """Clients whose retries wait milliseconds, not seconds; closed after the test."""
    made: list[Registry] = []

    def make(host: str, *, plain_http: bool = True, **kw) -> Registry:
        made.append(Registry(host, transport=Transport(
            host, plain_http=plain_http, retries=default_retry(backoff=0.001)), **kw))
        return made[-1]

    yield make
    for reg in made:
        reg.close()


def _pull_digest(registry, repo, digest, tmp_path) -> bytes:
    pulled = pull_package(registry.ref(repo, digest=digest), tmp_path / "check",
                          plain_http=True)
    return Path(pulled.path).read_bytes()


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "GET"])
def test_503s_are_retried_and_the_transfer_completes(method, built_pipeline, registry,
                                                     request, tmp_path, fast):
    repo = registry.repo(request)
    with Front(registry, fail_first=3, fail_when=lambda m, p: m == method) as front:
        reg = fast(front.host)
        ref = f"oci://{front.host}/{repo}:1.0.0"
        pushed = push_package(built_pipeline, ref, registry=reg)
        pulled = pull_package(ref, tmp_path / "out", registry=reg)
    assert pulled.digest == pushed.digest
    assert Path(pulled.path).read_bytes() == built_pipeline.read_bytes()
    failed = [s for s in front.seen if s[2] == 503]
    assert len(failed) == 3 and {m for m, _, _ in failed} == {method}


def test_connections_closed_without_an_answer_are_retried(built_pipeline, registry, request,
                                                          tmp_path, fast):
    repo = registry.repo(request)
    with Front(registry, reset_first=4) as front:
        reg = fast(front.host)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:1", registry=reg)
    assert [s[2] for s in front.seen[:4]] == [0, 0, 0, 0]
    assert _pull_digest(registry, repo, pushed.digest, tmp_path) == \
        built_pipeline.read_bytes()


def test_a_download_cut_in_the_middle_starts_again(built_pipeline, registry, request,
                                                   tmp_path, fast):
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    with Front(registry, cut_blobs_first=2) as front:
        pulled = pull_package(f"oci://{front.host}/{repo}:1", tmp_path / "out",
                              registry=fast(front.host))
    assert Path(pulled.path).read_bytes() == built_pipeline.read_bytes()
    layer = "sha256:" + hashlib.sha256(built_pipeline.read_bytes()).hexdigest()
    gets = [s for s in front.seen if s[:2] == ("GET", f"/v2/{repo}/blobs/{layer}")]
    assert len(gets) == 3  # cut twice, then whole


def test_retry_after_is_honoured(built_pipeline, registry, request, fast):
    with Front(registry, fail_first=1, retry_after="0") as front:
        push_package(built_pipeline, f"oci://{front.host}/{registry.repo(request)}:1",
                     registry=fast(front.host))
    first = front.seen[0]  # the package's HEAD or its upload's POST, whichever came first
    again = [s for s in front.seen[1:] if s[:2] == first[:2]]
    assert first[2] == 503 and again and again[0][2] in (202, 404)


def test_a_registry_that_keeps_failing_is_one_error_after_bounded_tries(
        built_pipeline, registry, request, fast):
    with Front(registry, fail_first=10_000, fail_when=lambda m, p: m == "POST") as front:
        with pytest.raises(UsageError) as caught:
            push_package(built_pipeline, f"oci://{front.host}/{registry.repo(request)}:1",
                         registry=fast(front.host))
    assert caught.value.code == "registry-error" and caught.value.exit_code == 2
    assert "(503: UNAVAILABLE injected)" in caught.value.message
    posts = [s for s in front.seen if s[0] == "POST"]
    assert len(posts) == 6  # the first try and five retries


def test_an_upload_whose_session_is_lost_starts_again(built_pipeline, registry, request,
                                                      tmp_path, fast):
    """A 404 on the closing PUT (the registry forgot the upload): a new upload."""
    repo = registry.repo(request)
    with Front(registry, fail_first=1, fail_status=404,
               fail_when=lambda m, p: m == "PUT" and "/blobs/uploads/" in p) as front:
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:1",
                              registry=fast(front.host))
    posts = [s for s in front.seen if s[0] == "POST"]
    assert len(posts) == 3  # the package twice, then its config
    assert _pull_digest(registry, repo, pushed.digest, tmp_path) == \
        built_pipeline.read_bytes()


def test_large_blobs_go_in_patch_chunks(built_pipeline, registry, request, tmp_path, fast):
    size = built_pipeline.stat().st_size
    repo = registry.repo(request)
    with Front(registry) as front:
        reg = fast(front.host, chunk_size=1000, monolithic_max=1000)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:1", registry=reg)
    patches = [s for s in front.seen if s[0] == "PATCH"]
    assert len(patches) == -(-size // 1000) and all(s[2] == 202 for s in patches)
    assert _pull_digest(registry, repo, pushed.digest, tmp_path) == \
        built_pipeline.read_bytes()


def test_a_chunk_that_fails_is_sent_again(built_pipeline, registry, request, tmp_path, fast):
    repo = registry.repo(request)
    with Front(registry, fail_first=2, fail_when=lambda m, p: m == "PATCH") as front:
        reg = fast(front.host, chunk_size=1000, monolithic_max=1000)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:1", registry=reg)
    assert _pull_digest(registry, repo, pushed.digest, tmp_path) == \
        built_pipeline.read_bytes()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_registry_is_one_error(built_pipeline, fast):
    host = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(UsageError) as caught:
        push_package(built_pipeline, f"oci://{host}/a/b:1", registry=fast(host))
    assert caught.value.code == "registry-unreachable"
    assert host in caught.value.message


def test_tls_to_a_plain_http_registry_says_to_pass_plain_http(registry, tmp_path, fast):
    with pytest.raises(UsageError) as caught:
        pull_package(registry.ref("a/b", "1"), tmp_path,
                     registry=fast(registry.host, plain_http=False))
    assert caught.value.code == "registry-unreachable"
    assert "--plain-http" in caught.value.hint


def test_ctrl_c_in_the_middle_of_a_pull_leaves_nothing(built_pipeline, registry, request,
                                                       tmp_path):
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    out = tmp_path / "out"
    out.mkdir()
    with Front(registry, stall_blobs=True) as front:
        # SIGINT as a terminal's Ctrl-C would deliver it, even when this test runs where
        # SIGINT is ignored (a background job of a shell without job control)
        proc = subprocess.Popen([EXE, "pull", f"oci://{front.host}/{repo}:1", "-o", str(out),
                                 "--plain-http"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            assert front.stalled.wait(60), "the pull never reached the package blob"
            staged = list(out.iterdir())
            assert len(staged) == 1 and staged[0].name.startswith(".cloacina-pull-")
            assert list(staged[0].iterdir())  # the half-written package
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130
    assert "error: interrupted" in err
    assert list(out.iterdir()) == []


def test_ctrl_c_in_the_middle_of_a_push_gives_up_the_upload_session(built_pipeline, registry,
                                                                     request):
    """Found by a new user: Ctrl-C left the session in the registry's _uploads (kept until
    its own purge, a week by default).  Here no byte has reached the registry (the front
    holds the body back): distribution drops the session.  Once bytes have arrived it
    refuses the DELETE (the session's state token has moved on), which docs/oci.md says
    and the hint admits."""
    repo = registry.repo(request)
    arrived, release = threading.Event(), threading.Event()

    def stall_the_body(method: str, path: str):
        if method == "PATCH":  # the body has been read; the registry has not seen it
            arrived.set()
            release.wait(30)
            return 503, {}, b""
        return None

    uploads = registry.storage / "docker/registry/v2/repositories" / repo / "_uploads"
    with Front(registry, answer=stall_the_body) as front:
        proc = subprocess.Popen([EXE, "push", str(built_pipeline), f"oci://{front.host}/{repo}:1",
                                 "--plain-http"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            assert arrived.wait(60), "the push never sent the package"
            assert len(list(uploads.glob("*/data"))) == 1  # the session the POST opened
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130 and "error: interrupted" in err
    assert "the registry may keep what it received" in err
    assert [s[2] for s in front.seen if s[0] == "DELETE"] == [204]
    assert list(uploads.glob("*/data")) == []  # distribution 2.8 keeps only hash states


def test_a_registry_that_went_away_is_not_pushed_to_again_and_again(built_pipeline, fast):
    """Found by a new user: a refused connection was retried by the transport, and then the
    whole upload started again twice more (25 s of silence); the error named urllib3's
    connection object."""
    from cloacina_build.oci.blobs import ATTEMPTS, with_attempts
    from cloacina_build.oci.transport import RegistryError
    from cloacina_build.progress import NO_PROGRESS

    host = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(UsageError) as caught:
        push_package(built_pipeline, f"oci://{host}/a/b:1", registry=fast(host))
    assert caught.value.message == f"cannot reach the registry {host}: connection refused"
    assert caught.value.no_connection
    # a wrong port is an error in about half a second, not after five backed-off retries
    # (found by a new user: 8 s); resets and 5xx keep their five
    retry = default_retry()
    assert (retry.connect, retry.read, retry.status) == (2, 5, 5)

    for no_connection, tries in ((True, 1), (False, ATTEMPTS)):  # False: a dropped upload
        calls: list[int] = []

        def send(no_connection=no_connection, calls=calls):
            calls.append(1)
            raise RegistryError("gone", code="registry-unreachable", hint="",
                                no_connection=no_connection)
        with pytest.raises(RegistryError):
            with_attempts(1, NO_PROGRESS, send)
        assert len(calls) == tries


def test_push_and_pull_commands_end_to_end(pipeline_pkg, registry, request, tmp_path):
    from cloacina_build.ops.signing import sign_detached
    from cloacina_build.trust.keys import generate, load_signing_key

    private, public, _ = generate("ci", tmp_path / "keys")
    sign_detached(pipeline_pkg, load_signing_key(str(private)))
    ref = registry.ref(registry.repo(request))
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "none")}
    done = subprocess.run([EXE, "push", str(pipeline_pkg), ref, "--plain-http"],
                          capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"pushed {pipeline_pkg} to {ref}:1.0.0"
    assert lines[1].endswith("cloacina format, 2 new blob(s)")
    digest = lines[2].removeprefix("  digest ")
    assert digest.startswith("sha256:") and len(digest) == 71
    assert lines[3].startswith(f"  referrer {pipeline_pkg}.sig: signature sha256:")

    trust = tmp_path / "trusted"
    trust.mkdir()
    (trust / public.name).write_bytes(public.read_bytes())
    done = subprocess.run([EXE, "pull", f"{ref}@{digest}", "-o", str(tmp_path / "out"),
                           "--trust", str(trust), "--plain-http", "--json"],
                          capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["ok"], result["verified"], result["signed_by"]) == (True, True, ["ci"])
    assert result["digest"] == digest
    assert Path(result["path"]).read_bytes() == pipeline_pkg.read_bytes()
    done = subprocess.run([EXE, "pull", "oci://nohost", "--json"], capture_output=True,
                          text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "oci-reference"


# -- a hostile or broken registry --------------------------------------------------------


def _manifest_path(path: str) -> bool:
    return "/manifests/" in path


@pytest.mark.parametrize("answer,code", [
    ((200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
      b" " * (5 << 20)), "oci-too-large"),
    ((200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
      b'{"schemaVersion": 2, "config": 1}'), "oci-manifest"),
    ((200, {}, b"<html>not json</html>"), "oci-manifest"),
    ((500, {}, b"oops"), "registry-error"),
    ((403, {}, b'{"errors":[{"code":"DENIED","message":"no"}]}'), "registry-auth"),
])
def test_hostile_manifest_answers_are_one_error_and_nothing_is_written(
        answer, code, registry, tmp_path, fast):
    with Front(registry, answer=lambda m, p: answer if _manifest_path(p) else None) as front:
        with pytest.raises(CloacinaError) as caught:
            pull_package(f"oci://{front.host}/a/b:1", tmp_path / "out",
                         registry=fast(front.host))
    assert caught.value.code == code
    assert not (tmp_path / "out").exists()


def test_a_manifest_fetched_by_digest_must_have_that_digest(built_pipeline, registry,
                                                            request, tmp_path, fast):
    repo = registry.repo(request)
    pushed = push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    other = push_package(built_pipeline, registry.ref(repo, "2"), plain_http=True,
                         source="https://example.com/other")
    swap = f"/v2/{repo}/manifests/{pushed.digest}"

    def answer(method, path):
        if path == swap:  # the other manifest's bytes, under this digest
            status, headers, body = registry.get(f"/v2/{repo}/manifests/{other.digest}",
                                                 {"Accept": "application/vnd.oci.image."
                                                            "manifest.v1+json"})
            return status, {"Content-Type": headers["Content-Type"]}, body
        return None

    with Front(registry, answer=answer) as front:
        with pytest.raises(CloacinaError) as caught:
            pull_package(f"oci://{front.host}/{repo}@{pushed.digest}", tmp_path / "out",
                         registry=fast(front.host))
    assert caught.value.code == "oci-digest-mismatch"
    assert not (tmp_path / "out").exists()


def test_an_identity_token_is_exchanged_for_an_access_token(built_pipeline, registry, request,
                                                            fast):
    from cloacina_build.oci import Credentials

    with Front(registry, bearer=("nobody", "-"), refresh_token="refresh-me") as front:
        reg = Registry(front.host, transport=Transport(
            front.host, plain_http=True, credentials=Credentials("", "", "refresh-me")))
        try:
            push_package(built_pipeline, f"oci://{front.host}/{registry.repo(request)}:1",
                         registry=reg)
        finally:
            reg.close()
    grants = {(t["grant_type"], t["refresh_token"], t["client_id"])
              for t in front.token_requests}
    assert grants == {("refresh_token", "refresh-me", "cloacinactl")}


def test_pushing_something_that_is_not_a_package_is_refused(registry, tmp_path):
    junk = tmp_path / "junk.cloacina"
    junk.write_bytes(b"not a package at all")
    done = subprocess.run([EXE, "push", str(junk), registry.ref("a/b"), "--plain-http"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "hint: " in done.stderr
    assert "Traceback" not in done.stderr


def _in_order(front_of, repo: str, layer: str, delete=None):
    """An ``answer`` for a Front that makes a push of an existing blob go one way: the
    package's HEAD waits until its upload has been started (POST), and the upload's PATCH
    waits until that HEAD has been answered, so the session is always given up.
    ``delete``: what a DELETE is answered (None: the registry's answer)."""
    def seen(entry) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                s[0] == entry[0] and s[1].startswith(entry[1]) and s[2] == entry[2]
                for s in front_of().seen):
            time.sleep(0.01)
        return True

    def answer(method: str, path: str):
        if method == "HEAD" and path.endswith(layer):
            seen(("POST", f"/v2/{repo}/blobs/uploads/", 202))
        elif method == "PATCH":
            seen(("HEAD", f"/v2/{repo}/blobs/{layer}", 200))
        elif method == "DELETE":
            return delete
        return None

    return answer


def test_an_upload_is_given_up_when_the_registry_turns_out_to_have_the_blob(
        built_pipeline, registry, request, fast):
    """The package is sent while it is hashed; the HEAD that follows the hash finds the
    blob, so the upload session is deleted instead of committed."""
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    fronts: list[Front] = []
    with Front(registry, answer=_in_order(lambda: fronts[0], repo,
                                          _layer(built_pipeline))) as front:
        fronts.append(front)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:2",
                              registry=fast(front.host))
    assert pushed.uploaded == 0
    uploads = [s for s in front.seen if "/blobs/uploads/" in s[1]]
    assert [s[0] for s in uploads if s[0] != "PATCH"] == ["POST", "DELETE"]
    assert not [s for s in front.seen if s[0] == "PUT" and "/blobs/" in s[1]]


def test_a_refused_delete_of_a_session_no_longer_needed_is_not_the_pushs_error(
        built_pipeline, registry, request, fast):
    """Giving the session up is a courtesy: a registry that answers the DELETE with a
    challenge no one can answer (here a token service that is not https) does not fail
    the push."""
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    refused = (401, {"WWW-Authenticate": 'Bearer realm="ftp://tokens.invalid/"'}, b"{}")
    fronts: list[Front] = []
    with Front(registry, answer=_in_order(lambda: fronts[0], repo, _layer(built_pipeline),
                                          delete=refused)) as front:
        fronts.append(front)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:2",
                              registry=fast(front.host))
    assert pushed.uploaded == 0
    assert [s[2] for s in front.seen if s[0] == "DELETE"] == [401]


def test_a_body_stops_once_the_blob_is_known_to_be_there(tmp_path):
    import io
    import threading

    from cloacina_build.oci.blobs import Present, Slice
    from cloacina_build.progress import NO_PROGRESS

    stop = threading.Event()
    body = Slice(io.BytesIO(b"x" * 100), 0, 100, NO_PROGRESS, stop)
    assert body.read(10) == b"x" * 10
    stop.set()
    with pytest.raises(Present):
        body.read(10)


def test_a_package_that_cannot_be_read_is_one_error_before_anything_is_sent(
        registry, request, tmp_path, fast):
    from cloacina_build.oci.lookahead import upload_file
    from cloacina_build.progress import NO_PROGRESS

    with Front(registry) as front:
        with pytest.raises(UsageError) as caught:
            upload_file(fast(front.host), registry.repo(request), tmp_path / "gone.cloacina",
                        1000, NO_PROGRESS)
    assert caught.value.code == "os-error" and "gone.cloacina" in caught.value.message
    assert front.seen == []


def _layer(package: Path) -> str:
    return "sha256:" + hashlib.sha256(package.read_bytes()).hexdigest()


def test_a_failing_head_for_the_package_does_not_stop_or_repeat_its_upload(
        built_pipeline, registry, request, tmp_path, fast):
    """The HEAD asked beside the upload fails (500, past every retry): the blob is just not
    known to be there, so the one upload goes on and is committed."""
    repo, layer = registry.repo(request), _layer(built_pipeline)
    with Front(registry, fail_first=10_000, fail_status=500,
               fail_when=lambda m, p: m == "HEAD" and p.endswith(layer)) as front:
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:1",
                              registry=fast(front.host))
    assert pushed.uploaded == 2
    assert len([s for s in front.seen if s[0] == "POST"]) == 2  # the package, its config
    assert len([s for s in front.seen if s[0] == "PATCH"]) == 1
    assert _pull_digest(registry, repo, pushed.digest, tmp_path) == \
        built_pipeline.read_bytes()


def test_giving_up_an_upload_session_is_asked_once(built_pipeline, registry, request,
                                                   fast):
    """The DELETE of a session no longer needed is a courtesy: a registry failing it
    (503) does not hold the push up with retries."""
    repo = registry.repo(request)
    push_package(built_pipeline, registry.ref(repo, "1"), plain_http=True)
    fronts: list[Front] = []
    with Front(registry, fail_first=10_000, fail_when=lambda m, p: m == "DELETE",
               answer=_in_order(lambda: fronts[0], repo, _layer(built_pipeline))) as front:
        fronts.append(front)
        pushed = push_package(built_pipeline, f"oci://{front.host}/{repo}:2",
                              registry=fast(front.host))
    assert pushed.uploaded == 0
    assert [s[2] for s in front.seen if s[0] == "DELETE"] == [503]


def test_a_body_that_ends_early_is_an_error_not_a_stalled_request():
    import io

    from cloacina_build.errors import PackageError
    from cloacina_build.oci.blobs import Slice
    from cloacina_build.progress import NO_PROGRESS

    body = Slice(io.BytesIO(b"x" * 50), 0, 100, NO_PROGRESS, name="p.cloacina")
    assert body.read(40) == b"x" * 40
    with pytest.raises(PackageError) as caught:
        body.read(40)
    assert "p.cloacina changed while it was being pushed" in caught.value.message


def test_a_package_that_grows_while_it_is_pushed_is_not_committed(built_pipeline, registry,
                                                                  request, tmp_path, fast):
    from cloacina_build.errors import PackageError
    from cloacina_build.oci.lookahead import upload_file
    from cloacina_build.progress import NO_PROGRESS

    size = built_pipeline.stat().st_size
    with Front(registry) as front:
        with pytest.raises(PackageError) as caught:  # the file has one byte more than said
            upload_file(fast(front.host), registry.repo(request), built_pipeline, size - 1,
                        NO_PROGRESS)
    assert "changed while it was being pushed" in caught.value.message
    assert not [s for s in front.seen if s[0] == "PUT"]
    assert [s[0] for s in front.seen if "/blobs/uploads/" in s[1]][-1] == "DELETE"


def test_the_hashing_thread_is_stopped_when_the_upload_fails(registry, request, tmp_path,
                                                             fast):
    import threading

    from cloacina_build.oci.lookahead import upload_file
    from cloacina_build.progress import NO_PROGRESS

    big = tmp_path / "big.cloacina"
    big.write_bytes(os.urandom(1 << 20) * 64)  # 64 MiB: hashing outlasts a refused POST
    with Front(registry, fail_first=10_000, fail_status=403,
               fail_when=lambda m, p: m == "POST") as front:
        with pytest.raises(UsageError):
            upload_file(fast(front.host), registry.repo(request), big, big.stat().st_size,
                        NO_PROGRESS)
    assert not [t for t in threading.enumerate() if t.name == "sha256-lookahead"]
