"""What a ``.cloacina`` package looks like in a registry: media types, the config blob and
the manifest (see docs/oci.md).

The package is an OCI 1.1 artifact: an image manifest whose ``artifactType`` is
:data:`ARTIFACT_TYPE`, whose config blob (:data:`CONFIG_TYPE`) holds the package metadata
as JSON, and whose one layer is the file itself, with a media type that says which format
it is (:data:`LAYER_TYPES`).  Everything in the manifest comes from the file, so the same
file pushed twice gives the same manifest digest: ``created`` is the build's
``SOURCE_DATE_EPOCH``, never the time of the push.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import PackageError
from .manifest import Descriptor, ImageManifest, to_json_bytes

if TYPE_CHECKING:  # ops.describe imports every package reader: not needed to pull
    from ..ops.describe import Description

CLOACINA, ENGINE = "cloacina", "engine"  # the formats, named as ops.describe names them

ARTIFACT_TYPE = "application/vnd.cloacina.package.v1"
CONFIG_TYPE = "application/vnd.cloacina.package.config.v1+json"
LAYER_CLOACINA = "application/vnd.cloacina.package.v1.tar+zstd"
LAYER_ENGINE = "application/vnd.cloacina.engine.v1.tar+bzip2"
LAYER_TYPES = {CLOACINA: LAYER_CLOACINA, ENGINE: LAYER_ENGINE}
SIGNATURE_TYPE = "application/vnd.cloacina.signature.v1"
SIGNATURE_LAYER = "application/vnd.cloacina.signature.v1+json"
PROVENANCE_TYPE = "application/vnd.in-toto+json"
PROVENANCE_LAYER = "application/vnd.dsse.envelope.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
EMPTY_DESCRIPTOR = Descriptor.of(EMPTY_TYPE, EMPTY)
#: The file each referrer kind is written to beside the package, and its layer type.
SIDECARS = {SIGNATURE_TYPE: (".sig", SIGNATURE_LAYER),
            PROVENANCE_TYPE: (".intoto.jsonl", PROVENANCE_LAYER)}
MAX_CONFIG = 1 << 20
MAX_SIDECAR = {SIGNATURE_TYPE: 64 << 10, PROVENANCE_TYPE: 1 << 20}

TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
REVISION = "org.opencontainers.image.revision"
SOURCE = "org.opencontainers.image.source"
CREATED = "org.opencontainers.image.created"
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


@dataclass(frozen=True)
class FileFacts:
    """The pushed file: its name, size and sha256 digest (``sha256:...``)."""

    name: str
    size: int
    digest: str


def config_json(desc: Description, file: FileFacts) -> bytes:
    """The config blob: the package metadata, as deterministic JSON."""
    wf = desc.workflow
    value: dict[str, Any] = {
        "format": desc.kind, "package": desc.package.to_dict(),
        "workflow": {"name": wf.name, "tasks": [t.id for t in wf.tasks]},
        "manifest_digest": desc.digest, "build": desc.build.to_dict() if desc.build else None,
        "file": {"name": file.name, "size": file.size, "digest": file.digest}}
    return to_json_bytes(value)


def created(desc: Description) -> str | None:
    """RFC 3339 of the build's SOURCE_DATE_EPOCH (the mtime a build without one wrote),
    or None for an archive this tool did not build."""
    from ..format.archive import DEFAULT_MTIME

    if desc.build is None:
        return None
    epoch = desc.build.source_date_epoch
    when = dt.datetime.fromtimestamp(DEFAULT_MTIME if epoch is None else epoch, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def package_manifest(desc: Description, file: FileFacts, config: bytes,
                     source: str | None = None) -> ImageManifest:
    if desc.kind not in LAYER_TYPES:
        raise PackageError(f"{desc.path} is not a package", code="oci-not-package",
                           hint="push a .cloacina file ('cloacinactl package' builds one)")
    annotations = {TITLE: file.name, VERSION: desc.package.version}
    if desc.build is not None and desc.build.source_revision:
        annotations[REVISION] = desc.build.source_revision
    if source:
        annotations[SOURCE] = source
    when = created(desc)
    if when:
        annotations[CREATED] = when
    layer = Descriptor(LAYER_TYPES[desc.kind], file.digest, file.size,
                       annotations=((TITLE, file.name),))
    return ImageManifest(Descriptor.of(CONFIG_TYPE, config), (layer,), ARTIFACT_TYPE,
                         annotations=tuple(sorted(annotations.items())))


def referrer_manifest(subject: Descriptor, artifact_type: str, layer: Descriptor
                      ) -> ImageManifest:
    """A referrer: an empty config, one layer (the file), ``subject`` the package."""
    return ImageManifest(EMPTY_DESCRIPTOR, (layer,), artifact_type, subject,
                         annotations=((TITLE, layer.annotation(TITLE) or ""),))


def safe_file_name(name: str | None) -> str | None:
    """``name`` when it is a plain file name safe to write (no directory, no leading dot,
    printable ASCII letters, digits and ``._+-``, at most 200 characters), else None."""
    if name is None or _FILE_NAME.fullmatch(name) is None or ".." in name:
        return None
    return name


def check_package_manifest(manifest: ImageManifest, where: str) -> Descriptor:
    """The package layer of a manifest this tool pushed, or ``oci-not-package``."""
    if manifest.artifact_type != ARTIFACT_TYPE and manifest.config.media_type != CONFIG_TYPE:
        raise PackageError(f"{where} is not a cloacina package (artifact type "
                           f"{str(manifest.artifact_type or manifest.config.media_type)!r})",
                           code="oci-not-package",
                           hint="check the reference: it names another kind of artifact")
    layers = [d for d in manifest.layers if d.media_type in LAYER_TYPES.values()]
    if len(layers) != 1 or len(manifest.layers) != 1:
        raise PackageError(f"{where} has {len(manifest.layers)} layer(s), not one package "
                           "file", code="oci-not-package",
                           hint="this artifact was not pushed by cloacinactl push")
    return layers[0]
