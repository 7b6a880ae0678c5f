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
from typing import Any

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


