"""The manifest: what a package holds, with the digest of every other member.

Serialised as canonical JSON (sorted keys, two-space indent, UTF-8, trailing newline).
The sha256 of those exact bytes is the *package digest*: the manifest lists the sha256
of ``package.toml`` and of the payload, so signing that digest covers every byte that
matters.  Readers hash the stored bytes; they never re-serialise to compare, and they read
the manifest only through the typed model (:meth:`cloacina_build.model.Manifest.parse`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from ..model import Member, canonical_json

FORMAT = "cloacina-package"
FORMAT_VERSION = 1
PACKAGE_TOML = "package.toml"
MANIFEST = "manifest.json"
PAYLOAD_DIR = "payload/"
SIGNATURE_DIR = "signatures/"


def dumps(manifest: dict[str, Any]) -> bytes:
    """Canonical JSON of a manifest in its dict form (the model's own writer)."""
    return canonical_json(manifest)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_listing(members: Iterable[Member]) -> bytes:
    """The bytes a ``source`` payload's sha256 covers (an engine archive's source tree):
    ``SHA256  SIZE  PATH`` lines, one per file but ``package.toml``, in byte order of the
    paths.  Every file of the tree is in it, vendored ones included, though the manifest's
    members list only the files outside ``vendor/`` (so the manifest, which ``inspect``
    reads, does not grow with the vendored code)."""
    ordered = sorted((m for m in members if m.path != PACKAGE_TOML),
                     key=lambda m: m.path.encode("utf-8", "surrogateescape"))
    return b"".join(f"{m.sha256}  {m.size}  {m.path}\n".encode("utf-8", "surrogateescape")
                    for m in ordered)


def source_digest(members: Iterable[Member]) -> str:
    return hashlib.sha256(source_listing(members)).hexdigest()


VENDOR_DIR = "vendor/"  # an engine archive's vendored code: in the payload digest only
