"""The pieces of a SLSA provenance v1 predicate this tool writes, shared by the builder
(``build/provenance.py``, which knows everything about the build it just ran) and ``attest``
(``ops/attest.py``, which knows only what a package's build manifest recorded).

A fact that is not known is left out, never guessed: SLSA reads an unset field, ``null``
and an empty one alike.  docs/provenance.md describes every field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from ..__about__ import __version__
from ..model import BuildInfo
from ..trust.provenance import BUILD_TYPE, BUILDER_ID
from ..trust.signatures import rfc3339

TOOL = "cloacina-build"


def dependency(name: str, *, uri: str | None = None, digest: Mapping[str, str] | None = None,
               version: str | None = None, **annotations: Any) -> dict[str, Any]:
    """One in-toto ResourceDescriptor: ``name``, and ``uri``, ``digest`` and the
    annotations (``version`` first) that are known."""
    out: dict[str, Any] = {"name": name}
    if uri:
        out["uri"] = uri
    if digest:
        out["digest"] = dict(digest)
    notes = {k: v for k, v in {"version": version, **annotations}.items() if v is not None}
    if notes:
        out["annotations"] = notes
    return out


def tool_dependency(version: str, git_commit: str | None = None) -> dict[str, Any]:
    return dependency(TOOL, uri=f"pkg:pypi/{TOOL}@{version}", version=version,
                      digest={"gitCommit": git_commit} if git_commit else None)


def installed_tool_commit() -> str | None:
    """The git commit this running tool was installed from (PEP 610's ``direct_url.json``),
    when it was installed from a git repository and is the code running."""
    from importlib import metadata

    try:
        dist = metadata.distribution(TOOL)
        text = dist.read_text("direct_url.json") if dist.version == __version__ else None
        info = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, OSError, UnicodeDecodeError, ValueError):
        return None
    vcs = info.get("vcs_info") if isinstance(info, dict) else None
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    return commit if isinstance(commit, str) and commit else None


def python_dependency(version: str, *, implementation: str | None = None,
                      sha256: str | None = None) -> dict[str, Any]:
    return dependency("python", uri=f"pkg:generic/python@{version}", version=version,
                      digest={"sha256": sha256} if sha256 else None,
                      implementation=implementation)


def backend_dependency(backend: str, version: str | None = None) -> dict[str, Any]:
    """The PEP 517 backend (``hatchling.build``), with its distribution's version when the
    build ran in this environment."""
    return dependency(backend, version=version, kind="pep517-backend")


def source_dependency(commit: str | None, *, uri: str | None = None,
                      dirty: bool | None = None) -> dict[str, Any] | None:
    """The source revision (``None`` when neither a commit nor a place is known)."""
    if not commit and not uri:
        return None
    return dependency("source", uri=uri, digest={"gitCommit": commit} if commit else None,
                      dirty=dirty)


def ci_invocation(env: Mapping[str, str]) -> str | None:
    """The CI run this is part of: GitHub Actions'
    ``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID/attempts/$GITHUB_RUN_ATTEMPT``,
    GitLab's ``$CI_JOB_URL``; ``None`` anywhere else."""
    server, repo, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                              "GITHUB_RUN_ID"))
    if server and repo and run:
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run}" + \
            (f"/attempts/{attempt}" if attempt else "")
    return env.get("CI_JOB_URL") or None


def predicate(*, external: dict[str, Any], internal: dict[str, Any],
              dependencies: list[dict[str, Any] | None], tool_version: str,
              metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The predicate: ``buildDefinition`` and ``runDetails`` (the builder is this tool at
    ``tool_version``; ``metadata`` holds what is known of the run)."""
    run: dict[str, Any] = {"builder": {"id": BUILDER_ID, "version": {TOOL: tool_version}}}
    meta = {k: v for k, v in (metadata or {}).items() if v is not None}
    if meta:
        run["metadata"] = meta
    return {"buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {k: v for k, v in internal.items() if v is not None},
                "resolvedDependencies": [d for d in dependencies if d is not None]},
            "runDetails": run}


def after_build(build: BuildInfo | None, package_format: str, *, now: dt.datetime,
                env: Mapping[str, str]) -> dict[str, Any]:
    """The predicate ``attest`` writes for a package built earlier: only what the package's
    build manifest recorded (``build``; ``None`` for an engine archive another tool
    wrote), marked ``attestedAfterBuild``.  No run metadata: the times and the invocation
    of the build are not known, and the attestation's own are not the build's."""
    internal: dict[str, Any] = {"attestedAfterBuild": True, "attestedOn": rfc3339(now),
                                "attestedBy": f"{TOOL} {__version__}",
                                "attestationInvocationId": ci_invocation(env)}
    deps: list[dict[str, Any] | None] = []
    tool_version = __version__
    if build is not None:
        internal.update(sourceDateEpoch=build.source_date_epoch,
                        sourceDirty=build.source_dirty)
        tool_version = build.tool_version
        deps = [source_dependency(build.source_revision, dirty=build.source_dirty),
                tool_dependency(build.tool_version),
                python_dependency(build.python)]
        if build.backend:  # a PEP 517 backend, "cargo build ...", "engine-source"
            deps.append(dependency(build.backend, kind="backend as the manifest records it"))
    else:
        internal["buildManifest"] = "none: the package does not record how it was built"
    return predicate(external={"format": package_format}, internal=internal,
                     dependencies=deps, tool_version=tool_version)


__all__ = ["after_build", "backend_dependency", "ci_invocation", "dependency", "predicate",
           "python_dependency", "source_dependency", "tool_dependency"]
