"""``load_package("oci://…")``: a reference fetched into the cache (``oci/local.py``), its
signature referrer taken as the detached signature when the policy names none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..oci.auth import Credentials
from ..oci.local import fetch_reference
from ..oci.reference import is_reference
from ..progress import Progress
from ..trust.policy import TrustPolicy

__all__ = ["Credentials", "from_registry"]


def from_registry(path: Path | str, trust: TrustPolicy | None, cache_dir: Path,
                  plain_http: bool, auth: Credentials | None, progress: Progress
                  ) -> tuple[Path, TrustPolicy | None]:
    """``path`` as a file: an ``oci://`` reference is the cached package file it names,
    and then the registry's ``FILE.sig`` counts as its detached signature when the policy
    names none (as ``FILE.sig`` beside a file does for ``verify`` and ``run``)."""
    if not (isinstance(path, str) and is_reference(path)):
        return Path(path), trust
    local = fetch_reference(path, cache_dir=cache_dir, auth=auth, plain_http=plain_http,
                            progress=progress)
    if trust is not None and trust.detached is None and local.signature is not None:
        trust = dataclasses.replace(trust, detached=local.signature)
    return local.path, trust
