"""Packages in OCI registries: ``push_package``, ``pull_package``, ``push_referrer`` and
``resolve`` over a small registry client (see docs/oci.md).

The layer sits above ``ops/`` (it describes and verifies packages) and below ``runtime/``
and ``cli/``.  Modules: ``reference`` (``oci://`` references), ``transport`` (HTTP on
urllib3: retries, the 401 challenge), ``auth`` (docker's credentials, helpers, tokens),
``manifest`` (typed manifests and indexes, read totally), ``blobs`` (streaming uploads and
downloads), ``lookahead`` (a package sent while it is hashed), ``client`` (``Registry``:
blobs, manifests, referrers), ``artifact`` (media types, the config blob, the manifest of
a package), ``push`` and ``pull``.

The names below are imported when first used (PEP 562): ``oci.reference.is_reference``,
which every command taking a package file asks, costs no HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_getattr

if TYPE_CHECKING:
    from .artifact import ARTIFACT_TYPE, PROVENANCE_TYPE, SIGNATURE_TYPE
    from .auth import Credentials
    from .client import Registry
    from .pull import PullResult, pull_package, resolve
    from .push import PushResult, ReferrerResult, push_package, push_referrer
    from .reference import Reference, is_reference, parse_reference

_HOMES = {"artifact": ["ARTIFACT_TYPE", "PROVENANCE_TYPE", "SIGNATURE_TYPE"],
          "auth": ["Credentials"], "client": ["Registry"],
          "pull": ["PullResult", "pull_package", "resolve"],
          "push": ["PushResult", "ReferrerResult", "push_package", "push_referrer"],
          "reference": ["Reference", "is_reference", "parse_reference"]}
__getattr__ = lazy_getattr(__name__, _HOMES, globals())

__all__ = ["ARTIFACT_TYPE", "PROVENANCE_TYPE", "SIGNATURE_TYPE", "Credentials", "Registry",
           "PullResult", "pull_package", "resolve", "PushResult", "ReferrerResult",
           "push_package", "push_referrer", "Reference", "is_reference", "parse_reference"]
