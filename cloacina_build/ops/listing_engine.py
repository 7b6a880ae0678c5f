"""``ls`` for the engine's bzip2 source archives: the members ``open_engine`` hashed in its
one bounded pass (nothing written), named relative to the package root, and the source
files as the payload: every file under the root but ``package.toml`` and this tool's
``.cloacina-build/``, vendored ones included — the files the source payload's digest covers
(``format/manifest.source_listing``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..findings import Severity
from ..format.engine.archive import EngineArchive, open_engine
from ..format.engine.rules import DEFAULT_ENGINE_LIMITS, EngineLimits
from ..format.manifest import PACKAGE_TOML
from ..progress import NO_PROGRESS, Progress
from .engine import engine_payload, source_files
from .listed import ENGINE, SIGNATURE_MEMBER, ListedMember, Listing, PayloadFile


def list_engine(path: Path | str, limits: EngineLimits = DEFAULT_ENGINE_LIMITS, *,
                progress: Progress = NO_PROGRESS) -> Listing:
    """The engine archive at ``path``.  Reading stops where the engine's unpacker stops
    (``complete`` False, with the findings that say why); the engine's other rules are
    ``validate``'s, not listed here.  ``progress`` hears the bytes read."""
    archive = open_engine(path, limits, progress)
    complete = archive.complete and archive.root is not None
    files: tuple[PayloadFile, ...] = ()
    payload = None
    if archive.root is not None:
        files = tuple(PayloadFile(rel, m.size, m.sha256) for rel, m in sorted(
            source_files(archive).items(), key=lambda item: _byte_order(item[0]))
            if rel != PACKAGE_TOML)
        payload = engine_payload(archive)[0]
    findings = () if complete else tuple(f for f in archive.findings
                                         if f.severity is Severity.ERROR)
    return Listing(str(path), ENGINE, members(archive), files, payload, None,
                   archive.root, None, complete, findings)


def _byte_order(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def members(archive: EngineArchive) -> tuple[ListedMember, ...]:
    """Every member in archive order, named relative to the root when under it (the root
    directory itself is ``.``), then the signature records of this tool's trailer."""
    prefix = f"{archive.root}/" if archive.root is not None else None
    out = []
    for m in archive.members:
        name = m.name
        if prefix is not None and name == archive.root:
            name = "."
        elif prefix is not None and name.startswith(prefix):
            name = name[len(prefix):]
        out.append(ListedMember(name, m.size, m.sha256, m.type))
    out += [ListedMember(name, len(data), hashlib.sha256(data).hexdigest(), SIGNATURE_MEMBER)
            for name, data in archive.signatures]
    return tuple(out)
