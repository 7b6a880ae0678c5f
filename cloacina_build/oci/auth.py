"""Registry credentials, found the way docker finds them, and the auth challenge flow.

Where credentials come from, first match wins:

1. ``--username`` with ``--password-stdin`` (:class:`Credentials` passed in);
2. docker's config (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``):
   ``credHelpers[host]``, then ``credsStore`` — both run ``docker-credential-NAME get``
   with the host on standard input — then ``auths[host].auth`` (base64 ``user:password``),
   ``username``/``password`` or ``identitytoken``;
3. none: the registry is used anonymously.

They are looked up only when a registry answers 401, so an anonymous pull never runs a
credential helper.  :func:`parse_challenge` reads ``WWW-Authenticate``: ``Basic`` gets the
credentials at once; ``Bearer realm=...,service=...,scope=...`` gets a token from the realm
(with the credentials, or anonymously), sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..strict_json import strict_json

MAX_CONFIG = 1 << 20
HELPER_TIMEOUT = 60
TOKEN_USER = "<token>"  # a helper's Username for an identity (refresh) token


@dataclass(frozen=True)
class Credentials:
    """A user name and a password; ``identity_token`` (an OAuth2 refresh token, docker's
    ``identitytoken``) replaces the password for bearer-token registries."""

    username: str
    password: str = field(repr=False)
    identity_token: str | None = field(default=None, repr=False)

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def _credential_error(message: str, hint: str) -> UsageError:
    return UsageError(message, code="registry-credentials", hint=hint)


def docker_config_path() -> Path:
    root = os.environ.get("DOCKER_CONFIG")
    return Path(root) / "config.json" if root else Path.home() / ".docker" / "config.json"


def _read_config(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _credential_error(f"cannot read {path}: {exc.strerror}",
                                "check its permissions, or set DOCKER_CONFIG") from None
    if len(data) > MAX_CONFIG:
        raise _credential_error(f"{path} is larger than 1 MiB", "is it docker's config.json?")
    try:
        value = strict_json(data)
    except ValueError as exc:
        raise _credential_error(f"{path} is not valid JSON: {exc}",
                                "fix the file, or set DOCKER_CONFIG to another "
                                "directory") from None
    return value if isinstance(value, dict) else {}


def _server_key(key: str) -> str:
    """A config.json key as a host: ``https://host:5000/v1/`` becomes ``host:5000``."""
    key = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", key)
    return key.split("/", 1)[0]


def _config_host(host: str) -> str:
    return "index.docker.io" if host in ("docker.io", "registry-1.docker.io") else host


def lookup(host: str, config: Path | None = None) -> Credentials | None:
    """The credentials docker would use for ``host``, or None."""
    path = config or docker_config_path()
    cfg = _read_config(path)
    want = _config_host(host)
    helpers = cfg.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(want), str):
        return run_helper(helpers[want], want)
    if isinstance(cfg.get("credsStore"), str) and cfg["credsStore"]:
        found = run_helper(cfg["credsStore"], want)
        if found is not None:
            return found
    auths = cfg.get("auths")
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if isinstance(key, str) and _server_key(key) == want and isinstance(entry, dict):
                return _from_entry(entry, path, key)
    return None


def _from_entry(entry: dict, path: Path, key: str) -> Credentials | None:
    raw_token = entry.get("identitytoken")
    token = raw_token if isinstance(raw_token, str) and raw_token else None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise _credential_error(f"{path}: the 'auth' of {key!r} is not base64 of "
                                    "user:password", f"run 'docker login {key}' again")
        return Credentials(user, password, token)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str):
        return Credentials(name, secret, token)
    return Credentials("", "", token) if token else None


def run_helper(name: str, host: str) -> Credentials | None:
    """``docker-credential-NAME get`` for ``host``; None when it has no credentials."""
    program = f"docker-credential-{name}"
    exe = shutil.which(program)
    if exe is None:
        raise _credential_error(f"docker's config names the credential helper {name!r}, "
                                f"but {program} is not on PATH",
                                f"install {program}, or remove it from "
                                f"{docker_config_path()}")
    try:
        done = subprocess.run([exe, "get"], input=host.encode(), capture_output=True,
                              timeout=HELPER_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _credential_error(f"{program} failed: {exc}",
                                f"run 'echo {host} | {program} get' to see why") from None
    out = done.stdout[:MAX_CONFIG]
    if done.returncode != 0:
        said = (out or done.stderr[:4096]).decode(errors="replace").strip()
        if "not found" in said.lower():
            return None
        raise _credential_error(f"{program} failed for {host}: "
                                f"{said.splitlines()[0] if said else done.returncode}",
                                f"run 'echo {host} | {program} get' to see why")
    return _helper_answer(out, program)


def _helper_answer(out: bytes, program: str) -> Credentials | None:
    try:
        value = strict_json(out)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("Secret"), str):
        raise _credential_error(f"{program} did not answer with Username and Secret",
                                "check that it is a docker credential helper")
    user = value.get("Username") if isinstance(value.get("Username"), str) else ""
    if user == TOKEN_USER:
        return Credentials("", "", value["Secret"])
    return Credentials(user or "", value["Secret"])


# -- challenges ---------------------------------------------------------------------

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str                      # "basic" or "bearer" (lower case)
    params: dict[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenge(header: str | None) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header, or None."""
    if not header:
        return None
    scheme, _, rest = header.strip()[:8192].partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None or match.end() == pos:
            break
        value = match[2] if match[2] is not None else match[3]
        params.setdefault(match[1].lower(), re.sub(r"\\(.)", r"\1", value or ""))
        pos = match.end()
    return Challenge(scheme.lower(), params)
