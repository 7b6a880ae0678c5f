"""``load_package("oci://…")``: a reference fetched into the cache (``oci/local.py``), its
signature referrer taken as the detached signature when the policy names none.

Only ``oci/reference.py`` is imported (no HTTP client, no urllib3) unless a reference is
given: loading a file costs what it did."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..progress import Progress
from ..trust.policy import TrustPolicy

if TYPE_CHECKING:
    from ..oci.auth import Credentials

__all__ = ["from_registry"]


def from_registry(path: Path | str, trust: TrustPolicy | None, cache_dir: Path,
                  plain_http: bool, auth: Credentials | None, progress: Progress
                  ) -> tuple[Path, TrustPolicy | None]:
    """``path`` as a file: an ``oci://`` reference is the cached package file it names,
    and then the registry's ``FILE.sig`` counts as its detached signature when the policy
    names none (as ``FILE.sig`` beside a file does for ``verify`` and ``run``)."""
    from ..oci.reference import is_reference

    if not (isinstance(path, str) and is_reference(path)):
        return Path(path), trust
    from ..oci.local import fetch_reference

    local = fetch_reference(path, cache_dir=cache_dir, auth=auth, plain_http=plain_http,
                            progress=progress)
    if trust is not None and trust.detached is None and local.signature is not None:
        trust = dataclasses.replace(trust, detached=local.signature)
    return local.path, trust
