"""Registry credentials the ways users already have them: --username/--password-stdin,
docker's config.json (auths, credHelpers, credsStore), basic auth against the real registry
with htpasswd, and the bearer-token challenge flow through a token service."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.errors import CloacinaError, UsageError
from cloacina_build.oci import Credentials, pull_package, push_package
from cloacina_build.oci.auth import lookup, parse_challenge

from .oci_front import Front
from .registry import AUTH_PASSWORD, AUTH_USER

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def _config(tmp_path: Path, value: dict, monkeypatch) -> Path:
    root = tmp_path / "docker"
    root.mkdir(exist_ok=True)
    (root / "config.json").write_text(json.dumps(value))
    monkeypatch.setenv("DOCKER_CONFIG", str(root))
    return root


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _helper(tmp_path: Path, name: str, answer: dict | None, monkeypatch) -> Path:
    """``docker-credential-NAME`` on PATH: logs the host it is asked about, answers."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    script = bindir / f"docker-credential-{name}"
    reply = json.dumps(answer) if answer else None
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 3\n'
        f"cat >> {log}\necho >> {log}\n" +
        (f"cat <<'EOF'\n{reply}\nEOF\n" if reply else
         "echo 'credentials not found in native keychain'\nexit 1\n"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


# -- basic auth against the real registry ------------------------------------------------


def test_htpasswd_registry_takes_explicit_credentials(built_pipeline, auth_registry, request,
                                                     tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    creds = Credentials(AUTH_USER, AUTH_PASSWORD)
    pushed = push_package(built_pipeline, ref, auth=creds, plain_http=True)
    pulled = pull_package(ref, tmp_path / "out", auth=creds, plain_http=True)
    assert pulled.digest == pushed.digest
    assert Path(pulled.path).read_bytes() == built_pipeline.read_bytes()


@pytest.mark.parametrize("creds", [None, Credentials(AUTH_USER, "wrong")])
def test_htpasswd_registry_refuses_anonymous_and_wrong_passwords(
        creds, built_pipeline, auth_registry, request, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    with pytest.raises(UsageError) as caught:
        push_package(built_pipeline, ref, auth=creds, plain_http=True)
    assert caught.value.code == "registry-auth" and caught.value.exit_code == 2
    assert ("docker login" in caught.value.hint) == (creds is None)


def test_docker_config_auths_are_used(built_pipeline, auth_registry, request, tmp_path,
                                      monkeypatch):
    _config(tmp_path, {"auths": {f"http://{auth_registry.host}/v1/":
                                 {"auth": _b64(AUTH_USER, AUTH_PASSWORD)}}}, monkeypatch)
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    assert push_package(built_pipeline, ref, plain_http=True).digest.startswith("sha256:")


def test_a_credential_helper_on_path_is_asked_for_the_host(built_pipeline, auth_registry,
                                                           request, tmp_path, monkeypatch):
    log = _helper(tmp_path, "cloacinatest",
                  {"ServerURL": auth_registry.host, "Username": AUTH_USER,
                   "Secret": AUTH_PASSWORD}, monkeypatch)
    _config(tmp_path, {"credHelpers": {auth_registry.host: "cloacinatest"},
                       "auths": {auth_registry.host: {"auth": _b64("x", "wrong")}}},
            monkeypatch)
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    push_package(built_pipeline, ref, plain_http=True)
    assert log.read_text().split() == [auth_registry.host]  # asked once, for this host


def test_creds_store_is_used_for_every_host(built_pipeline, auth_registry, request, tmp_path,
                                            monkeypatch):
    log = _helper(tmp_path, "storetest", {"Username": AUTH_USER, "Secret": AUTH_PASSWORD},
                  monkeypatch)
    _config(tmp_path, {"credsStore": "storetest"}, monkeypatch)
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    push_package(built_pipeline, ref, plain_http=True)
    assert log.read_text().split() == [auth_registry.host]


def test_anonymous_registries_never_run_a_helper(built_pipeline, registry, request, tmp_path,
                                                 monkeypatch):
    log = _helper(tmp_path, "unused", {"Username": "u", "Secret": "s"}, monkeypatch)
    _config(tmp_path, {"credsStore": "unused"}, monkeypatch)
    push_package(built_pipeline, registry.ref(registry.repo(request), "1"), plain_http=True)
    assert not log.exists()


def test_helper_without_credentials_means_anonymous(tmp_path, monkeypatch):
    _helper(tmp_path, "empty", None, monkeypatch)
    _config(tmp_path, {"credsStore": "empty"}, monkeypatch)
    assert lookup("registry.example:5000") is None


def test_a_missing_helper_or_a_broken_config_is_one_error(tmp_path, monkeypatch):
    _config(tmp_path, {"credHelpers": {"r.example": "not-installed-anywhere"}}, monkeypatch)
    with pytest.raises(UsageError) as caught:
        lookup("r.example")
    assert caught.value.code == "registry-credentials"
    assert "docker-credential-not-installed-anywhere" in caught.value.message
    (tmp_path / "docker" / "config.json").write_text("{not json")
    with pytest.raises(UsageError) as caught:
        lookup("r.example")
    assert caught.value.code == "registry-credentials"
    _config(tmp_path, {"auths": {"r.example": {"auth": "!!!"}}}, monkeypatch)
    with pytest.raises(UsageError) as caught:
        lookup("r.example")
    assert caught.value.code == "registry-credentials"


@pytest.mark.parametrize("key", ["r.example:5000", "https://r.example:5000",
                                 "https://r.example:5000/v1/", "http://r.example:5000/v2"])
def test_config_keys_match_the_host_with_or_without_scheme_and_path(key, tmp_path,
                                                                     monkeypatch):
    _config(tmp_path, {"auths": {key: {"auth": _b64("u", "p:with:colons")}}}, monkeypatch)
    assert lookup("r.example:5000") == Credentials("u", "p:with:colons")
    assert lookup("r.example") is None


def test_identity_tokens_from_config_and_helpers(tmp_path, monkeypatch):
    _config(tmp_path, {"auths": {"r.example": {"identitytoken": "refresh-me"}}}, monkeypatch)
    assert lookup("r.example").identity_token == "refresh-me"
    _helper(tmp_path, "tok", {"Username": "<token>", "Secret": "refresh-2"}, monkeypatch)
    _config(tmp_path, {"credsStore": "tok"}, monkeypatch)
    assert lookup("r.example").identity_token == "refresh-2"


# -- bearer tokens -----------------------------------------------------------------------


def test_bearer_challenge_gets_a_token_with_service_and_scope(built_pipeline, registry,
                                                              request, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    repo = registry.repo(request)
    creds = Credentials("robot", "t0ken")
    with Front(registry, bearer=("robot", "t0ken")) as front:
        ref = f"oci://{front.host}/{repo}:1.0.0"
        pushed = push_package(built_pipeline, ref, auth=creds, plain_http=True)
        pulled = pull_package(ref, tmp_path / "out", auth=creds, plain_http=True)
    assert pulled.digest == pushed.digest
    scopes = {t["scope"] for t in front.token_requests}
    assert scopes <= {f"repository:{repo}:pull", f"repository:{repo}:pull,push"}
    assert f"repository:{repo}:pull,push" in scopes
    assert {(t["service"], t["user"]) for t in front.token_requests} == {("front.test",
                                                                          "robot")}
    # a token is reused: far fewer token requests than registry requests
    assert len(front.token_requests) < len(front.seen) / 3


def test_a_pull_token_obtained_beside_an_upload_never_replaces_the_push_token(
        built_pipeline, registry, request, monkeypatch):
    """Push asks HEAD in a second thread while it uploads; both meet a bearer challenge.
    The HEAD's token is scoped to pull: the upload's requests must keep the push token,
    or each would be refused (401) and its body sent twice."""
    monkeypatch.setenv("DOCKER_CONFIG", str(request.config.rootpath / "no-such-config"))
    creds = Credentials("robot", "t0ken")
    with Front(registry, bearer=("robot", "t0ken")) as front:
        for i in range(8):  # each push is a new client: the race is run eight times
            push_package(built_pipeline, f"oci://{front.host}/{registry.repo(request)}-{i}:1",
                         auth=creds, plain_http=True)
    refused = [s for s in front.seen if s[2] == 401 and s[0] not in ("GET", "HEAD")]
    posts = [s for s in refused if s[0] == "POST"]
    assert refused == posts and len(posts) <= 8  # only each push's first request


def test_an_expired_token_is_replaced_once_not_on_every_request(built_pipeline, registry,
                                                               request, tmp_path,
                                                               monkeypatch):
    """The kept token expires (the token service forgets it): the next request's new
    token is kept, even one obtained to read, so the requests after it need no other."""
    from cloacina_build.oci import Registry

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    creds = Credentials("robot", "t0ken")
    with Front(registry, bearer=("robot", "t0ken")) as front:
        ref = f"oci://{front.host}/{registry.repo(request)}:1"
        push_package(built_pipeline, ref, auth=creds, plain_http=True)
        reg = Registry(front.host, plain_http=True, auth=creds)
        try:
            pull_package(ref, tmp_path / "a", registry=reg)
            front.tokens.clear()  # every token handed out so far has expired
            before = len(front.token_requests)
            pull_package(ref, tmp_path / "b", registry=reg)  # five requests or so
        finally:
            reg.close()
    assert len(front.token_requests) - before == 1


def test_bearer_with_wrong_or_no_credentials_is_refused(built_pipeline, registry, request,
                                                        tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    with Front(registry, bearer=("robot", "t0ken")) as front:
        ref = f"oci://{front.host}/{registry.repo(request)}:1"
        for creds in (None, Credentials("robot", "nope")):
            with pytest.raises(CloacinaError) as caught:
                push_package(built_pipeline, ref, auth=creds, plain_http=True)
            assert caught.value.code == "registry-auth"


def test_a_token_realm_over_plain_http_is_refused_for_a_tls_registry():
    from cloacina_build.oci.transport import Transport

    t = Transport("r.example", credentials=Credentials("u", "p"))
    with pytest.raises(UsageError) as caught:
        t._token(parse_challenge('Bearer realm="http://evil.example/token",service="x"'),
                 t.credentials(), "test")
    assert caught.value.code == "registry-auth" and "https" in caught.value.message


@pytest.mark.parametrize("header,scheme,params", [
    ('Bearer realm="https://auth.example/token",service="registry.example",'
     'scope="repository:a/b:pull,push"', "bearer",
     {"realm": "https://auth.example/token", "service": "registry.example",
      "scope": "repository:a/b:pull,push"}),
    ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
    ('BEARER realm=https://a/t, service=s', "bearer", {"realm": "https://a/t", "service": "s"}),
    ('Bearer realm="with \\"quotes\\""', "bearer", {"realm": 'with "quotes"'}),
    ("Bearer", "bearer", {}),
])
def test_challenges_are_parsed(header, scheme, params):
    challenge = parse_challenge(header)
    assert challenge is not None
    assert (challenge.scheme, challenge.params) == (scheme, params)


# -- the command line ----------------------------------------------------------------------


def test_cli_username_and_password_stdin(built_pipeline, auth_registry, request, tmp_path):
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "none")}
    ref = auth_registry.ref(auth_registry.repo(request), "1.0.0")
    done = subprocess.run([EXE, "push", str(built_pipeline), ref, "--plain-http",
                           "--username", AUTH_USER, "--password-stdin", "--json"],
                          input=AUTH_PASSWORD + "\n", capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["digest"].startswith("sha256:")
    done = subprocess.run([EXE, "pull", ref, "--plain-http", "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {auth_registry.host} needs credentials") or \
        "refused" in done.stderr
    assert "hint: log in first ('docker login" in done.stderr
    done = subprocess.run([EXE, "push", str(built_pipeline), ref, "--plain-http",
                           "--username", AUTH_USER], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "--username and --password-stdin go together" in done.stderr
