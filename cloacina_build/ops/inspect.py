"""``inspect_package``: what a package holds, read from its head alone.

Only ``package.toml``, ``manifest.json`` and the signature trailer are read, so the cost
does not grow with the payload (except to judge a ``FILE.sig`` beside the package under a
trust store: a detached signature covers the whole file, which is then hashed).  Nothing
is verified here (that is ``validate``); the manifest is read by the typed parser, so a
hostile one is a clear error, never a traceback, and everything after it trusts the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..format.engine.bzip import ENGINE, detect_format
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import Package, open_package
from ..fsutil import file_sha256
from ..model import Manifest
from ..progress import NO_PROGRESS, Progress
from ..project.graph import execution_levels
from ..trust.policy import describe_signatures, sidecar
from ..trust.signatures import SignatureVerdict
from ..trust.store import TrustStore

if TYPE_CHECKING:  # pragma: no cover
    from .engine import EngineInspection


@dataclass(frozen=True)
class Inspection:
    """A package as ``inspect`` shows it: the typed manifest and what was measured."""

    path: str
    manifest: Manifest
    levels: list[list[str]]       # task ids by execution level
    file_size: int
    manifest_size: int
    digest: str                   # sha256 of the manifest bytes
    signatures: list[SignatureVerdict]

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        payload = m.payload.to_dict()
        del payload["path"]
        return {
            "ok": True,
            "format": "cloacina",
            "path": self.path,
            "format_version": m.format_version,
            "package": m.package.to_dict(),
            "workflow": {"name": m.workflow.name, "entry_module": m.workflow.entry_module,
                         "fingerprint": m.workflow.fingerprint, "levels": self.levels},
            "tasks": [t.to_dict() for t in m.workflow.tasks],
            "triggers": [t.to_dict() for t in m.workflow.triggers],
            "params": [p.to_dict() for p in m.workflow.params],
            "secrets": list(m.workflow.secrets),
            "payload": payload,
            "sizes": {"file": self.file_size,
                      "members": {e.path: e.size for e in m.members},
                      "manifest": self.manifest_size},
            "native": m.native.to_dict() if m.native is not None else None,
            "build": m.build.to_dict(),
            "digest": self.digest,
            "signatures": [s.to_dict() for s in self.signatures],
        }


def inspect(path: Path | str, limits: Limits = DEFAULT_LIMITS, *,
            trust: TrustStore | None = None,
            progress: Progress = NO_PROGRESS) -> Inspection | EngineInspection:
    """The package at ``path``, from its head alone; a ``FILE.sig`` beside it is listed
    too (with ``trust``, the whole file is hashed to judge it).  An engine archive (bzip2
    source, detected by its magic) is read once (reported to ``progress``) and its
    workflow discovered from the source."""
    if Path(path).is_file() and detect_format(path) == ENGINE:
        from .engine import inspect_engine

        return inspect_engine(path, trust, progress=progress)
    return describe(open_package(path, limits), trust, detached=sidecar(path))


def inspect_package(path: Path | str, limits: Limits = DEFAULT_LIMITS, *,
                    trust: TrustStore | None = None) -> dict[str, Any]:
    """:func:`inspect` in its JSON form (what ``cloacinactl inspect --json`` prints)."""
    return inspect(path, limits, trust=trust).to_dict()


def describe(pkg: Package, trust: TrustStore | None = None, *,
             detached: Path | None = None) -> Inspection:
    m = pkg.manifest
    whole = file_sha256(pkg.path) if detached is not None and trust is not None else None
    return Inspection(
        path=str(pkg.path), manifest=m, levels=execution_levels(m.workflow.tasks),
        file_size=pkg.file_size, manifest_size=len(pkg.manifest_bytes), digest=pkg.digest,
        signatures=describe_signatures(m.package.name, m.package.version, pkg.digest,
                                       pkg.signature_members, trust, detached=detached,
                                       file_sha256=whole))
