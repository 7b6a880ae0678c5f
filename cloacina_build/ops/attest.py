"""Attest a package: write its signed build provenance, ``FILE.intoto.jsonl``, beside it.

:func:`attest_package` attests a package already built (either format): it is validated
first (an attestation endorses content, as a signature does), its bytes hashed, and the
predicate made from its own build manifest, marked as attested after the build
(:func:`~.predicate.after_build`).  ``cloacinactl package --provenance`` attests at build
time instead, knowing more (``build/provenance.py``); both write through
:func:`write_attestation`: the envelope is read back and verified with the signing key
before it is put in place, atomically, and an existing ``FILE.intoto.jsonl`` is replaced
only with ``force`` (``exists`` otherwise), as ``sign --detached`` treats ``FILE.sig``.

The subject is the package file's name and the sha256 of its bytes, so the attestation
covers the final file: anything that changes the bytes afterwards (an embedded signature,
a rebuild) leaves it stale, and ``verify --provenance`` refuses it.  Sign first, attest
last (``sign`` refuses to change a package that has an attestation beside it).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PackageError, UsageError
from ..fsutil import atomic_output, file_sha256
from ..trust.dsse import Envelope, envelope_bytes, sign_envelope
from ..trust.keys import SigningKey
from ..trust.provenance import (
    ProvenanceFacts,
    attestation_path,
    judge_attestation,
    statement_bytes,
)
from ..trust.signatures import now_utc
from ..trust.store import TrustStore
from .predicate import after_build


@dataclass(frozen=True)
class Attestation:
    """An attestation just written."""

    path: Path                  # FILE.intoto.jsonl
    package: Path               # FILE
    sha256: str                 # the subject's digest: FILE's bytes
    key_id: str
    signer: str
    facts: ProvenanceFacts
    envelope: Envelope
    replaced: bool = False      # with force: an existing FILE.intoto.jsonl was replaced

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "path": str(self.path), "package": str(self.package),
                "subject": {"name": self.package.name, "sha256": self.sha256},
                "key_id": self.key_id, "signer": self.signer, "replaced": self.replaced,
                "predicate": self.facts.to_dict()}


def refuse_existing(target: Path, package: Path, force: bool) -> bool:
    """Whether ``target`` (an attestation) exists; refused (``exists``) unless ``force``."""
    present = target.exists() or target.is_symlink()
    if present and not force:
        raise UsageError(f"{package} already has build provenance beside it "
                         f"({target.name}); refusing to replace it", code="exists",
                         hint="pass --force to replace it")
    return present


def attest_package(path: Path | str, key: SigningKey, *, force: bool = False,
                   env: Mapping[str, str] | None = None,
                   now: dt.datetime | None = None) -> Attestation:
    """Write ``FILE.intoto.jsonl`` for the package ``path`` (either format), from what its
    build manifest records.  ``env``: where to look for a CI run (default: this
    process's environment)."""
    from .describe import describe_path
    from .signing import _validated_copy

    path = Path(path)
    replaced = refuse_existing(attestation_path(path), path, force)
    with _validated_copy(path) as copy:
        sha256 = file_sha256(copy)
        description = describe_path(copy)
    predicate = after_build(description.build, description.kind, now=now or now_utc(),
                            env=os.environ if env is None else env)
    return write_attestation(path, key, sha256, predicate, replaced=replaced)


def write_attestation(package: Path, key: SigningKey, sha256: str,
                      predicate: dict[str, Any], *, replaced: bool = False) -> Attestation:
    """Sign the statement of ``predicate`` about ``package`` (whose bytes hash to
    ``sha256``) and write it, checked, to ``FILE.intoto.jsonl``."""
    target = attestation_path(package)
    envelope = sign_envelope(statement_bytes(package.name, sha256, predicate), key)
    data = envelope_bytes(envelope)
    verdict = judge_attestation(data, where=str(target), name=package.name, sha256=sha256,
                                trust=TrustStore.from_keys(key.public))
    if not verdict.ok:  # pragma: no cover - the writer and the reader disagree: a bug
        raise PackageError("the attestation would not verify; nothing was written",
                           code="provenance-malformed", findings=verdict.findings)
    with atomic_output(target) as fh:
        fh.write(data)
    assert verdict.facts is not None
    return Attestation(target, package, sha256, key.public.id, key.name, verdict.facts,
                       envelope, replaced)


__all__ = ["Attestation", "attest_package", "refuse_existing", "write_attestation"]
