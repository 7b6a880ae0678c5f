"""A real OCI registry for tests: Debian's ``docker-registry`` (CNCF distribution 2.8,
which has no referrers API, so the OCI 1.1 fallback tag path is what gets exercised).

Use the conftest fixtures, not this module directly:

- ``registry`` (session-scoped, so one per xdist worker): no auth, plain HTTP on a free
  loopback port, storage in a temporary directory.
- ``auth_registry`` (session-scoped): the same with htpasswd (basic) auth for
  ``AUTH_USER``/``AUTH_PASSWORD``.

Both yield a :class:`Registry`::

    def test_x(registry, built_pipeline):
        ref = registry.ref("team/pipeline", "1.0.0")   # "oci://127.0.0.1:PORT/team/pipeline:1.0.0"
        registry.host                                   # "127.0.0.1:PORT"
        registry.blob_path("sha256:...")                # the blob's data file in storage
        registry.get("/v2/_catalog")                    # (status, headers, body), stdlib only

Tests that need a registry of their own (to tamper with its storage, say) call
:func:`start_registry` with a ``tmp_path`` and ``stop()`` it; the fixtures skip the test,
naming what is missing, when ``docker-registry`` is not installed (``apt-get install
docker-registry``; ``.ci/run`` installs it).  Each test should use its own repository name
(``registry.repo(request)`` gives one) so tests sharing a worker's registry never meet.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

BINARY = "docker-registry"
AUTH_USER = "ci-user"
AUTH_PASSWORD = "s3cret-Pa55"
START_TIMEOUT = 30.0  # seconds to wait for /v2/ to answer


def missing() -> str | None:
    """Why a registry cannot be started here, or None."""
    if shutil.which(BINARY) is None:
        return (f"{BINARY} not found on PATH (Debian: apt-get install docker-registry; "
                ".ci/run installs it)")
    return None


@dataclass
class Registry:
    """A running ``docker-registry`` process on loopback."""

    host: str
    storage: Path
    process: subprocess.Popen
    config: Path
    auth: tuple[str, str] | None = None
    log: Path | None = None
    _repos: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, repo: str, tag: str | None = None, digest: str | None = None) -> str:
        """An ``oci://`` reference into this registry."""
        out = f"oci://{self.host}/{repo}"
        if digest:
            return f"{out}@{digest}"
        return f"{out}:{tag}" if tag else out

    def repo(self, request) -> str:
        """A repository name unique to the calling test (from its node id)."""
        stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())
        stem = "-".join(part for part in stem.split("-") if part)[:60].strip("-") or "t"
        name, n = f"test/{stem}", 1
        while name in self._repos:
            n += 1
            name = f"test/{stem}-{n}"
        self._repos.add(name)
        return name

    def blob_path(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (distribution's filesystem layout)."""
        algo, hexa = digest.split(":", 1)
        return (self.storage / "docker" / "registry" / "v2" / "blobs" / algo / hexa[:2] /
                hexa / "data")

    def get(self, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, Message, bytes]:
        """A GET with the standard library (independent of the code under test); the
        headers are looked up without regard to case."""
        headers = dict(headers or {})
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            headers.setdefault("Authorization", f"Basic {token}")
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback)
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd line, as ``htpasswd -B`` writes it (the ``bcrypt`` package)."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5, prefix=b"2a"))
    return f"{user}:{hashed.decode()}\n"


def _config(root: Path, port: int, auth: tuple[str, str] | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'storage'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        "  secret: cloacina-build-tests",
    ]
    if auth:
        (root / "htpasswd").write_text(htpasswd_line(*auth))
        lines += ["auth:", "  htpasswd:", "    realm: cloacina-tests",
                  f"    path: {root / 'htpasswd'}"]
    return "\n".join(lines) + "\n"


def _wait_ready(reg: Registry, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if reg.process.poll() is not None:
            return False
        try:
            status, _, _ = reg.get("/v2/")
        except OSError:
            time.sleep(0.05)
            continue
        if status in (200, 401):
            return True
        time.sleep(0.05)
    return False


def start_registry(root: Path, *, auth: tuple[str, str] | None = None) -> Registry:
    """Start ``docker-registry serve`` with its config and storage under ``root``; wait
    for ``/v2/`` to answer.  Raises ``RuntimeError`` (with the registry's log) when it
    does not start.  The caller stops it."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    for _attempt in range(3):  # a free port can be taken between the check and the bind
        port = _free_port()
        config = root / "config.yml"
        config.write_text(_config(root, port, auth))
        log = root / "registry.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([shutil.which(BINARY) or BINARY, "serve", str(config)],
                                       stdout=out, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL)
        reg = Registry(f"127.0.0.1:{port}", root / "storage", process, config, auth, log)
        if _wait_ready(reg, time.monotonic() + START_TIMEOUT):
            return reg
        reg.stop()
    raise RuntimeError(f"{BINARY} did not start: {log.read_text(errors='replace')[-2000:]}")
