"""The manifest: what a package holds, with the digest of every other member.

Serialised as canonical JSON (sorted keys, two-space indent, UTF-8, trailing newline).
The sha256 of those exact bytes is the *package digest*: the manifest lists the sha256
of ``package.toml`` and of the payload, so signing that digest covers every byte that
matters.  Readers hash the stored bytes; they never re-serialise to compare, and they read
the manifest only through the typed model (:meth:`cloacina_build.model.Manifest.parse`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any

from ..__about__ import __version__
from ..project.fingerprint import ALGORITHM, workflow_fingerprint
from ..project.rust import ALGORITHM as RUST_ALGORITHM

FORMAT = "cloacina-package"
FORMAT_VERSION = 1
PACKAGE_TOML = "package.toml"
MANIFEST = "manifest.json"
PAYLOAD_DIR = "payload/"
SIGNATURE_DIR = "signatures/"


def dumps(manifest: dict[str, Any]) -> bytes:
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False)
    return (text + "\n").encode("utf-8")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(*, project_meta: dict, name: str, version: str, discovery,
                   payload: dict, members: list[dict], backend: str,
                   source_revision: str | None, source_dirty: bool | None,
                   epoch: int, native: dict | None = None) -> dict[str, Any]:
    tasks = sorted(discovery.tasks, key=lambda t: t["id"])
    wf_name = project_meta["workflow_name"]
    algorithm = RUST_ALGORITHM if project_meta["language"] == "rust" else ALGORITHM
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package": {
            "name": name,
            "version": version,
            "language": project_meta["language"],
            "description": project_meta.get("description"),
            "author": project_meta.get("author"),
            "requires_python": project_meta.get("requires_python"),
        },
        "workflow": {
            "name": wf_name,
            "entry_module": project_meta["entry_module"],
            "fingerprint": workflow_fingerprint(wf_name, tasks, algorithm),
            "fingerprint_algorithm": algorithm,
            "tasks": tasks,
            "triggers": sorted(discovery.triggers, key=lambda t: t["name"]),
            "params": sorted(discovery.params, key=lambda p: p["name"]),
            "secrets": sorted(discovery.secrets),
        },
        "payload": payload,
        "members": sorted(members, key=lambda m: m["path"]),
        "build": {
            "tool": "cloacina-build",
            "tool_version": __version__,
            "python": platform.python_version(),
            "backend": backend,
            "source_revision": source_revision,
            "source_dirty": source_dirty,
            "source_date_epoch": epoch,
        },
    }
    if native is not None:
        manifest["native"] = native
    return manifest
