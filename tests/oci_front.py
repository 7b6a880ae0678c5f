"""A small HTTP front for the real test registry (tests/registry.py), on loopback, that can
misbehave on purpose: answer 503 to the first requests, demand bearer tokens from its own
token service, or stall in the middle of a blob.  Everything else is passed through to the
registry unchanged, so the client under test still talks to a real distribution server.

    with Front(registry, fail_first=2) as front:      # two 503s, then the real answers
        push_package(pkg, f"oci://{front.host}/x:1", plain_http=True)
        front.seen                                     # [(method, path, status), ...]

Request bodies are read whole (test blobs are small); responses stream through.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable


class Front:
    """``fail_first``: that many requests (matching ``fail_when``) get 503 first.
    ``bearer``: (user, password) the token service at ``/token`` wants; the front then
    wants ``Authorization: Bearer <token>`` on every /v2/ request.  ``stall_blobs``: a blob
    GET of more than 1 KiB (a package, not a config) sends its first half, then waits
    until ``release`` is set (or 30 s).  ``reset_first``: that many requests get their
    connection closed with no answer.  ``cut_blobs_first``: that many such blob GETs send
    half the blob and then close the connection.  ``refresh_token``: the token service also
    takes this OAuth2 refresh token (``grant_type=refresh_token``, POST).  ``answer``: called
    with (method, path); a (status, headers, body) it returns is sent instead of the
    registry's answer (a hostile registry).  ``referrers_api``: the front is an OCI 1.1
    registry: it answers ``GET /v2/<name>/referrers/<digest>`` from the manifests with a
    ``subject`` stored through it, and says ``OCI-Subject`` when it stores one."""

    def __init__(self, registry, *, fail_first: int = 0,
                 fail_when: Callable[[str, str], bool] | None = None,
                 bearer: tuple[str, str] | None = None, stall_blobs: bool = False,
                 fail_status: int = 503, retry_after: str | None = None,
                 reset_first: int = 0, cut_blobs_first: int = 0,
                 refresh_token: str | None = None, referrers_api: bool = False,
                 answer: Callable[[str, str], tuple[int, dict, bytes] | None] | None = None
                 ) -> None:
        self.registry = registry
        self.fail_left, self.fail_when = fail_first, fail_when or (lambda m, p: True)
        self.fail_status, self.retry_after = fail_status, retry_after
        self.bearer, self.tokens = bearer, {}
        self.stall_blobs, self.release = stall_blobs, threading.Event()
        self.stalled = threading.Event()
        self.reset_left, self.cut_left = reset_first, cut_blobs_first
        self.refresh_token, self.answer = refresh_token, answer
        self.referrers_api, self.referrers = referrers_api, {}
        self.seen: list[tuple[str, str, int]] = []
        self.token_requests: list[dict] = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Front:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.seen.append((method, path, status))

    def take(self, counter: str) -> bool:
        with self.lock:
            left = getattr(self, counter)
            if left > 0:
                setattr(self, counter, left - 1)
                return True
        return False

    def take_failure(self, method: str, path: str) -> bool:
        with self.lock:
            if self.fail_left > 0 and self.fail_when(method, path):
                self.fail_left -= 1
                return True
        return False


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up (the Ctrl-C test) is not an error of the test


def _handler(front: Front):  # noqa: C901 (one request handler class)
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/token"):
                return self._token(body)
            faked = front.answer(self.command, self.path) if front.answer else None
            if faked is not None:
                return self._reply(faked[0], faked[2], faked[1])
            if front.take("reset_left"):
                front.record(self.command, self.path, 0)
                self.close_connection = True
                return None
            if front.take_failure(self.command, self.path):
                return self._reply(front.fail_status, b'{"errors":[{"code":"UNAVAILABLE",'
                                   b'"message":"injected"}]}',
                                   {"Retry-After": front.retry_after} if front.retry_after
                                   else {})
            if front.bearer and not self._has_token():
                return self._challenge()
            if front.referrers_api and self.command == "GET" and "/referrers/" in self.path:
                return self._referrers()
            self._forward(body)

        def _referrers(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            digest = url.path.rsplit("/", 1)[-1]
            wanted = dict(urllib.parse.parse_qsl(url.query)).get("artifactType")
            entries = [d for d in front.referrers.get(digest, [])
                       if wanted is None or d.get("artifactType") == wanted]
            headers = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
            if wanted:
                headers["OCI-Filters-Applied"] = "artifactType"
            self._reply(200, json.dumps({"schemaVersion": 2, "mediaType": headers[
                "Content-Type"], "manifests": entries}).encode(), headers)

        def _subject(self, body: bytes, status: int) -> str | None:
            """Index a referrer stored through the front; its subject's digest."""
            if not (front.referrers_api and self.command == "PUT" and status == 201 and
                    "/manifests/" in self.path):
                return None
            manifest = json.loads(body)
            if "subject" not in manifest:
                return None
            entry = {"mediaType": manifest["mediaType"], "size": len(body),
                     "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                     "artifactType": manifest.get("artifactType"),
                     "annotations": manifest.get("annotations", {})}
            listed = front.referrers.setdefault(manifest["subject"]["digest"], [])
            listed[:] = [e for e in listed if e["digest"] != entry["digest"]] + [entry]
            return manifest["subject"]["digest"]

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
            front.record(self.command, self.path, status)
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _has_token(self) -> bool:
            """A token whose scope allows this request (push needs pull,push), as a
            token service's registry checks it."""
            auth = self.headers.get("Authorization", "")
            scope = front.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if scope is None:
                return False
            return self.command in ("GET", "HEAD") or scope.endswith(":pull,push")

        def _challenge(self) -> None:
            repo = self.path.split("/v2/", 1)[-1].split("/blobs/")[0].split("/manifests/")[0]
            actions = "pull" if self.command in ("GET", "HEAD") else "pull,push"
            realm = f"http://{front.host}/token"
            value = (f'Bearer realm="{realm}",service="front.test",'
                     f'scope="repository:{repo}:{actions}"')
            self._reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}',
                        {"WWW-Authenticate": value})

        def _token(self, body: bytes) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if self.command == "POST":
                form = dict(urllib.parse.parse_qsl(body.decode()))
                front.token_requests.append({**form, "user": None})
                if form.get("grant_type") != "refresh_token" or \
                        form.get("refresh_token") != front.refresh_token:
                    return self._reply(401, b"{}")
                token = secrets.token_hex(16)
                front.tokens[token] = form.get("scope")
                return self._reply(200, json.dumps({"access_token": token}).encode(),
                                   {"Content-Type": "application/json"})
            auth = self.headers.get("Authorization", "")
            user = None
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                if (user, password) != front.bearer:
                    return self._reply(401, b"{}")
            front.token_requests.append({**query, "user": user})
            if user is None:
                return self._reply(401, b"{}")
            token = secrets.token_hex(16)
            front.tokens[token] = query.get("scope")
            self._reply(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                        {"Content-Type": "application/json"})

        def _forward(self, body: bytes) -> None:
            conn = http.client.HTTPConnection(front.registry.host, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "authorization", "connection")}
            if front.registry.auth:
                raw = f"{front.registry.auth[0]}:{front.registry.auth[1]}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                self._relay(conn.getresponse(), body)
            except OSError:  # the client went away (Ctrl-C): nothing more to send
                self.close_connection = True
            finally:
                conn.close()

        def _relay(self, resp, body: bytes) -> None:
            front.record(self.command, self.path, resp.status)
            self.send_response(resp.status)
            subject = self._subject(body, resp.status)
            if subject:
                self.send_header("OCI-Subject", subject)
            for k, v in resp.getheaders():
                if k.lower() in ("connection", "transfer-encoding"):
                    continue
                if k.lower() == "location":
                    v = v.replace(front.registry.host, front.host)
                self.send_header(k, v)
            data = resp.read() if self.command != "HEAD" else b""
            if self.command == "HEAD" or resp.getheader("Content-Length") is not None:
                self.end_headers()
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
            self._send_body(data)

        def _send_body(self, data: bytes) -> None:
            if self.command == "HEAD":
                return
            big_blob = "/blobs/sha256:" in self.path and len(data) > 1024
            if big_blob and front.take("cut_left"):
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if front.stall_blobs and big_blob:
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                front.stalled.set()
                front.release.wait(30)
                time.sleep(0.01)
                self.wfile.write(data[len(data) // 2:])
                return
            self.wfile.write(data)

    return Handler
