"""What names a package and where it comes from: the explicit ``package.toml`` every
package carries, the output file's name, the source revision, and the build's result.
Shared by the zstd builder and the engine-format writer."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..model import Manifest
from ..project.config import METADATA_KEYS, Project
from ..trust.policy import sidecar
from ..trust.provenance import sidecar_attestation

if TYPE_CHECKING:  # pragma: no cover
    from ..ops.attest import Attestation
    from ..ops.signing import SignResult


@dataclass(frozen=True)
class BuildResult:
    path: Path
    manifest: Manifest
    digest: str
    size: int
    signed: SignResult | None = None  # when build_package was given a signing key
    replaced: str | None = None  # with force: the signed package this build replaced
    attestation: Attestation | None = None  # with provenance: FILE.intoto.jsonl written

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"ok": True, "path": str(self.path), "size": self.size, "digest": self.digest,
                "package": m.package.to_dict(),
                "workflow": {"name": m.workflow.name, "fingerprint": m.workflow.fingerprint,
                             "tasks": [t.id for t in m.workflow.tasks]},
                "payload": m.payload.to_dict(),
                "signed_by": None if self.signed is None else
                {"key_id": self.signed.key_id, "signer": self.signed.signer},
                "replaced": self.replaced,
                "provenance": None if self.attestation is None else
                self.attestation.to_dict()}


def output_path(project: Project, version: str, output: Path | str | None) -> Path:
    """Where the package goes: ``-o FILE``, ``-o DIR/`` or ``dist/`` in the project."""
    name = f"{project.name}-{version}.cloacina"
    if output is None:
        return project.root / "dist" / name
    out = Path(output)
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        return out / name
    if out.suffix != ".cloacina":
        raise UsageError(f"output {out} must end in .cloacina or be a directory",
                         hint="name a file like out/pkg.cloacina, or a directory ending in /")
    return out


def render_package_toml(project: Project, version: str) -> bytes:
    import tomlkit

    doc = tomlkit.document()
    pkg = tomlkit.table()
    pkg.add("name", project.name)
    pkg.add("version", version)
    pkg.add("interface", "cloacina-workflow-plugin")
    pkg.add("interface_version", 1)
    pkg.add("extension", "cloacina")
    doc.add("package", pkg)
    meta = tomlkit.table()
    for key in METADATA_KEYS:
        if project.metadata.get(key) is not None:
            meta.add(key, project.metadata[key])
    doc.add("metadata", meta)
    return tomlkit.dumps(doc).encode("utf-8")


def git_provenance(root: Path) -> tuple[str | None, bool | None]:
    """HEAD's commit and whether tracked files differ from it; (None, None) outside git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no", "--", "."],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 \
        else None


def embedded_records(path: Path) -> list[tuple[str, bytes]]:
    """The embedded signature records of the package at ``path``, either format."""
    from ..format.engine import detect_format, open_engine
    from ..format.engine.trailer import ends_unsigned
    from ..format.package import open_package

    if detect_format(path) == "engine":  # an unsigned one is known from its last bytes
        return [] if ends_unsigned(path) else list(open_engine(path).signatures)
    return open_package(path).signature_members


def signed_output(out: Path, force: bool) -> str | None:
    """What signed package a build would replace at ``out`` (``None``: nothing signed);
    refused (``exists``) unless ``force``."""
    from ..errors import CloacinaError
    from ..ops.signing import detached_description, embedded_description

    if not out.is_file():
        return None
    try:
        found = [embedded_description(data, name) for name, data in embedded_records(out)]
    except CloacinaError:  # not a package we can read: nothing signed to lose
        found = []
    sig = sidecar(out)
    if sig is not None:
        found.append(detached_description(sig) + " beside it")
    attested = sidecar_attestation(out)
    if attested is not None:
        found.append(f"build provenance {attested.name} beside it")
    if not found:
        return None
    what = "; ".join(found)
    # an attestation alone is not a signature of the package (found by a new user)
    attested_only = sig is None and len(found) == 1 and attested is not None
    noun = "attested" if attested_only else "signed"
    if not force:
        lost = "its attestation will no longer match" if attested_only else \
            "its signatures are lost"
        raise UsageError(f"{out} is already {'an' if attested_only else 'a'} {noun} package "
                         f"({what}); refusing to replace it",
                         code="exists", hint=f"pass --force to replace it ({lost}), or build "
                         "to another path with -o")
    left = [p.name for p in (sig, attested) if p is not None]
    verb = "is left in place and no longer matches" if len(left) == 1 else \
        "are left in place and no longer match"
    stale = f" ({' and '.join(left)} {verb})" if left else ""
    return f"the {noun} package {out.name} ({what}){stale}"
