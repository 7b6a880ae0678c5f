"""Provenance of a build just made: ``cloacinactl package --sign KEY --provenance``.

The builder knows more than a package records, so the predicate holds it: the project's
path inside its repository (never a temporary or absolute path), the format and options
asked for, the source revision with its remote and ref, the toolchain that ran (this tool,
the Python interpreter with its binary's sha256, the PEP 517 backend's distribution and
version when it ran in this environment, cargo and rustc with their commits for a crate),
the start and finish times and the CI run.  The attestation is made last, over the final
bytes (after an embedded signature, which changes them), and written by
:func:`~cloacina_build.ops.attest.write_attestation`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..__about__ import __version__
from ..fsutil import file_sha256
from ..ops.attest import Attestation, write_attestation
from ..ops.predicate import (
    backend_dependency,
    ci_invocation,
    dependency,
    installed_tool_commit,
    predicate,
    python_dependency,
    source_dependency,
    tool_dependency,
)
from ..trust.keys import SigningKey
from ..trust.provenance import attestation_path
from ..trust.signatures import rfc3339
from .identity import BuildResult


@dataclass(frozen=True)
class BuildRun:
    """What was asked of the build and when it ran."""

    project_dir: Path
    format: str
    isolated: bool
    native_lib: str | None
    signed: bool
    started: dt.datetime
    finished: dt.datetime


def attest_build(result: BuildResult, run: BuildRun, key: SigningKey, *,
                 env: Mapping[str, str] | None = None) -> Attestation:
    """Write ``FILE.intoto.jsonl`` for the package ``result`` just built (and signed); the
    build already refused to replace one without ``force``."""
    env = os.environ if env is None else env
    replaced = attestation_path(result.path).exists()
    return write_attestation(result.path, key, file_sha256(result.path),
                             build_predicate(result, run, env), replaced=replaced)


def build_predicate(result: BuildResult, run: BuildRun, env: Mapping[str, str]
                    ) -> dict[str, Any]:
    build = result.manifest.build
    root = run.project_dir.resolve()
    git = _git(root)
    external = {"project": git.prefix if git.prefix is not None else root.name,
                "format": run.format,
                "options": {"isolated": run.isolated,
                            "nativeLib": Path(run.native_lib).name if run.native_lib else None,
                            "sign": run.signed}}
    internal = {"attestedAfterBuild": False, "sourceDateEpoch": build.source_date_epoch,
                "sourceDirty": build.source_dirty}
    deps = [source_dependency(build.source_revision, dirty=build.source_dirty,
                              uri=git.uri(build.source_revision, env)),
            tool_dependency(__version__, installed_tool_commit()),
            python_dependency(platform.python_version(),
                              implementation=platform.python_implementation(),
                              sha256=_sha256(Path(sys.executable).resolve()))]
    deps += _builders(result, run, root)
    metadata = {"invocationId": ci_invocation(env), "startedOn": rfc3339(run.started),
                "finishedOn": rfc3339(run.finished)}
    return predicate(external=external, internal=internal, dependencies=deps,
                     tool_version=__version__, metadata=metadata)


def _builders(result: BuildResult, run: BuildRun, root: Path) -> list[dict[str, Any] | None]:
    """The backend that made the payload: a PEP 517 backend, cargo and rustc, a prebuilt
    library (by its digest), or nothing (an engine archive is the source itself)."""
    backend = result.manifest.build.backend
    if run.format == "engine":
        return []
    if run.native_lib is not None:
        return [dependency(Path(run.native_lib).name,
                           digest={"sha256": result.manifest.payload.sha256},
                           kind="prebuilt native library")]
    if backend.startswith("cargo"):
        return [_rust_tool("cargo", root), _rust_tool("rustc", root)]
    return [backend_dependency(backend, None if run.isolated else _dist_version(backend))]


def _rust_tool(tool: str, root: Path) -> dict[str, Any] | None:
    """``cargo -vV`` / ``rustc -vV`` (run where cargo ran, so rustup picks the same
    toolchain): the release, and the rust-lang commit it was built from."""
    out = _run([os.environ.get(tool.upper(), tool), "-vV"], root)
    if out is None:
        return None
    fields = dict(line.split(": ", 1) for line in out.splitlines()[1:] if ": " in line)
    release, commit = fields.get("release"), fields.get("commit-hash")
    return dependency(tool, uri=f"pkg:generic/{tool}@{release}" if release else None,
                      version=release, digest={"gitCommit": commit}
                      if commit and commit != "unknown" else None)


def _dist_version(backend: str) -> str | None:
    """The version of the distribution providing the backend module ``backend``."""
    from importlib import metadata

    top = backend.split(":")[0].split(".")[0]
    try:
        dists = metadata.packages_distributions().get(top) or [top]
        return metadata.version(dists[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _run(cmd: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass(frozen=True)
class _Git:
    prefix: str | None      # the project's path inside the repository ("." at its root)
    remote: str | None      # origin's URL, without credentials
    ref: str | None         # HEAD's symbolic ref (refs/heads/main), when on a branch

    def uri(self, commit: str | None, env: Mapping[str, str]) -> str | None:
        """``git+REMOTE@REF`` (SLSA's form): the branch, else the CI's ref, else the
        commit."""
        ref = self.ref or env.get("GITHUB_REF") or commit
        return f"git+{self.remote}@{ref}" if self.remote and ref else None


def _git(root: Path) -> _Git:
    prefix = _run(["git", "-C", str(root), "rev-parse", "--show-prefix"], root)
    if prefix is None:
        return _Git(None, None, None)
    remote = _run(["git", "-C", str(root), "remote", "get-url", "origin"], root)
    ref = _run(["git", "-C", str(root), "symbolic-ref", "-q", "HEAD"], root)
    return _Git(prefix.strip().rstrip("/") or ".",
                public_remote(remote.strip()) if remote else None,
                (ref.strip() or None) if ref else None)


def public_remote(url: str) -> str | None:
    """A remote's URL fit to publish: credentials removed, scp-like ``user@host:path`` as
    ``ssh://``; ``None`` for a local path or ``file:`` URL (a path on this machine)."""
    if "://" not in url:
        host, sep, path = url.partition(":")
        if not sep or "/" in host or not host:
            return None  # a local path
        return f"ssh://{host}/{path.lstrip('/')}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
        return None
    user = f"{parts.username}@" if parts.scheme == "ssh" and parts.username and \
        not parts.password else ""
    netloc = f"{user}{parts.hostname}" + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path}"


__all__ = ["BuildRun", "attest_build", "build_predicate", "public_remote"]
