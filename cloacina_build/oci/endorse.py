"""Endorsing a package already in a registry: ``sign --detached oci://…`` and
``attest oci://…``.

The package is fetched into the cache (or found there, :mod:`.local`), signed or attested
exactly as a local file is (validated first; the signature or statement covers the file's
bytes), and the new ``FILE.sig`` or ``FILE.intoto.jsonl`` is pushed as a referrer of the
package manifest, then put beside the cached package.  The package itself is never
changed: an embedded signature would change its bytes, and so its digest.  A referrer of
the same kind already in the registry is replaced (a newer one is what pull takes) only
with ``force``, as a ``FILE.sig`` beside a file is.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..progress import NO_PROGRESS, Progress
from ..trust.keys import SigningKey
from .artifact import PROVENANCE_TYPE, SIDECARS, SIGNATURE_TYPE
from .auth import Credentials
from .client import Registry
from .local import LocalPackage, fetch_reference, store_sidecar
from .push import ReferrerResult, open_registry, push_referrer
from .reference import parse_fetchable


@dataclass(frozen=True)
class Endorsement:
    """A signature or an attestation made for a package in a registry and pushed there."""

    reference: str          # the package, pinned: oci://HOST/REPO[:TAG]@DIGEST
    package: Path           # the package in the cache
    kind: str               # "signature" or "provenance"
    file: Path              # the FILE.sig or FILE.intoto.jsonl, beside the cached package
    referrer: ReferrerResult
    made: Any               # the SignResult or Attestation, as the local command has it
    replaced: bool          # a referrer of this kind was already there (with force)

    def to_dict(self) -> dict[str, Any]:
        made = self.made.to_dict()
        made.pop("ok", None)
        made["path"] = str(self.file)
        if "package" in made:
            made["package"] = str(self.package)
        return {"ok": True, "reference": self.reference, "kind": self.kind,
                "referrer": self.referrer.to_dict(), "replaced": self.replaced, self.kind: made}


@dataclass(frozen=True)
class _Access:
    cache_dir: Path | str | None
    auth: Credentials | None
    plain_http: bool
    registry: Registry | None
    progress: Progress


def sign_reference(ref: str, key: SigningKey, *, force: bool = False,
                   when: dt.datetime | None = None, cache_dir: Path | str | None = None,
                   auth: Credentials | None = None, plain_http: bool = False,
                   registry: Registry | None = None,
                   progress: Progress = NO_PROGRESS) -> Endorsement:
    """Sign the package ``ref`` names with a detached signature (the engine's ``.sig``)
    and push it as a referrer."""
    from ..ops.signing import sign_detached

    def make(package: Path, out: Path) -> Any:
        return sign_detached(package, key, out=out, when=when)

    access = _Access(cache_dir, auth, plain_http, registry, progress)
    return _endorse(ref, SIGNATURE_TYPE, "signature", make, force, access)


def attest_reference(ref: str, key: SigningKey, *, force: bool = False,
                     env: Mapping[str, str] | None = None, now: dt.datetime | None = None,
                     cache_dir: Path | str | None = None, auth: Credentials | None = None,
                     plain_http: bool = False, registry: Registry | None = None,
                     progress: Progress = NO_PROGRESS) -> Endorsement:
    """Attest the package ``ref`` names (its build provenance, from its build manifest,
    as ``attest FILE`` does) and push the attestation as a referrer."""
    from ..ops.attest import attest_package

    def make(package: Path, out: Path) -> Any:
        # attest writes beside the package it is given: give it a link in a private
        # directory, named as the package (the statement's subject is that name)
        link = out.with_name(package.name)
        os.symlink(package, link)
        return attest_package(link, key, env=env, now=now)

    access = _Access(cache_dir, auth, plain_http, registry, progress)
    return _endorse(ref, PROVENANCE_TYPE, "provenance", make, force, access)


def _endorse(ref: str, artifact_type: str, kind: str,
             make: Callable[[Path, Path], Any], force: bool, access: _Access) -> Endorsement:
    target = parse_fetchable(ref)
    reg = open_registry(target, access.auth, access.plain_http, access.registry)
    try:
        local = fetch_reference(ref, cache_dir=access.cache_dir, registry=reg,
                                progress=access.progress)
        existing = reg.referrers(target.repository, local.digest, artifact_type)
        if existing and not force:
            raise UsageError(f"{local.reference} already has a {kind} referrer "
                             f"({existing[-1].digest}); refusing to add another",
                             code="exists", hint="pass --force to push a newer one (pull "
                             "and run take the newest)")
        suffix = SIDECARS[artifact_type][0]
        with tempfile.TemporaryDirectory(prefix="cloacina-endorse-") as tmp:
            out = Path(tmp) / (local.path.name + suffix)
            access.progress.phase(f"making the {kind}")
            made = make(local.path, out)
            pushed = push_referrer(local.reference, out, artifact_type, registry=reg,
                                   progress=access.progress)
            stored = store_sidecar(local, out, artifact_type, pushed.digest, access.cache_dir)
    finally:
        if access.registry is None:
            reg.close()
    return Endorsement(local.reference, local.path, kind, stored, _named(pushed, stored), made,
                       bool(existing))


def _named(pushed: ReferrerResult, stored: Path) -> ReferrerResult:
    """The referrer, naming the file where it now is (not the private one pushed)."""
    return ReferrerResult(pushed.artifact_type, str(stored), pushed.digest, pushed.subject)


__all__ = ["Endorsement", "LocalPackage", "attest_reference", "sign_reference"]
