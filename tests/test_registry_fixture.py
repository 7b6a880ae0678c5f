"""The registry fixture itself: the real docker-registry answers, stores what it is given
where tests/registry.py says, and refuses unauthenticated requests when auth is on."""

from __future__ import annotations

import hashlib
import json
import urllib.request


def _put_blob(reg, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    headers = {}
    if reg.auth:
        import base64
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"{reg.auth[0]}:{reg.auth[1]}".encode()).decode()
    start = urllib.request.Request(f"{reg.url}/v2/{repo}/blobs/uploads/", method="POST",
                                   headers=headers)
    with urllib.request.urlopen(start) as resp:
        location = resp.headers["Location"]
    if location.startswith("/"):
        location = reg.url + location
    sep = "&" if "?" in location else "?"
    put = urllib.request.Request(f"{location}{sep}digest={digest}", data=data, method="PUT",
                                 headers={**headers,
                                          "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(put) as resp:
        assert resp.status == 201
    return digest


def test_registry_serves_v2_and_stores_blobs_where_the_fixture_says(registry, request):
    status, headers, _ = registry.get("/v2/")
    assert status == 200
    assert headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
    repo = registry.repo(request)
    digest = _put_blob(registry, repo, b"hello registry")
    assert registry.blob_path(digest).read_bytes() == b"hello registry"
    status, _, body = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert (status, body) == (200, b"hello registry")


def test_auth_registry_refuses_anonymous_and_accepts_the_user(auth_registry, request):
    status, headers, _ = auth_registry.get("/v2/", headers={"Authorization": "Basic eDp5"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic ")
    assert auth_registry.get("/v2/")[0] == 200
    repo = auth_registry.repo(request)
    digest = _put_blob(auth_registry, repo, b"{}")
    status, _, body = auth_registry.get(f"/v2/{repo}/blobs/{digest}")
    assert (status, json.loads(body)) == (200, {})
