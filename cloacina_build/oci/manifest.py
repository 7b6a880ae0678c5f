"""OCI image manifests, indexes and descriptors: typed, written deterministically, and read
back from untrusted bytes by a total parser (size-bounded, strict JSON, every field typed)
that gives an object or a :class:`PackageError` (``oci-manifest``), never a traceback."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import PackageError
from ..strict_json import strict_json
from .reference import DIGEST

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MAX_MANIFEST = 4 << 20          # bytes of a manifest or index we read
MAX_DESCRIPTORS = 10_000        # layers of a manifest, entries of an index
MAX_ANNOTATIONS = 256
MAX_TEXT = 64 << 10             # one annotation value
MAX_SIZE = (1 << 53) - 1
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/"
                         r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")

Annotations = tuple[tuple[str, str], ...]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def to_json_bytes(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 (the same object, the same
    bytes, so the same digest)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Annotations = ()

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def of(cls, media_type: str, data: bytes, **kw: Any) -> Descriptor:
        return cls(media_type, sha256_digest(data), len(data), **kw)


@dataclass(frozen=True)
class ImageManifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: Annotations = ()

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)

    def to_bytes(self) -> bytes:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": self.config.to_json(),
                               "layers": [layer.to_json() for layer in self.layers]}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return to_json_bytes(out)


@dataclass(frozen=True)
class Index:
    manifests: tuple[Descriptor, ...] = ()
    annotations: Annotations = ()

    def to_bytes(self) -> bytes:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "manifests": [m.to_json() for m in self.manifests]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return to_json_bytes(out)


# -- reading ---------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _load(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_MANIFEST:
        raise _fail(where, f"larger than {MAX_MANIFEST} bytes")
    try:
        value = strict_json(data)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    if not isinstance(value, dict):
        raise _fail(where, "not a JSON object")
    return value


def _fail(where: str, why: str) -> PackageError:
    return PackageError(f"{where} is malformed: {why}", code="oci-manifest",
                        hint="the registry holds something this tool did not push; check the "
                             "reference")


def _text(value: Any, path: str, *, limit: int = 255) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _Bad(f"'{path}' must be text of at most {limit} characters")
    return value


def _media_type(value: Any, path: str) -> str:
    if _MEDIA_TYPE.fullmatch(_text(value, path)) is None:
        raise _Bad(f"'{path}' is not a media type")
    return value


def _size(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise _Bad(f"'{path}' must be a non-negative integer")
    return value


def _annotations(value: Any, path: str) -> Annotations:
    if value is None:
        return ()
    if not isinstance(value, dict) or len(value) > MAX_ANNOTATIONS:
        raise _Bad(f"'{path}' must be an object of at most {MAX_ANNOTATIONS} strings")
    for key, text in value.items():
        _text(key, f"{path} key")
        _text(text, f"{path}.{key}", limit=MAX_TEXT)
    return tuple(sorted(value.items()))


def descriptor(value: Any, path: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _Bad(f"'{path}' must be an object")
    digest = _text(value.get("digest"), f"{path}.digest")
    if DIGEST.fullmatch(digest) is None:
        raise _Bad(f"'{path}.digest' must be sha256: and 64 lower-case hex digits")
    artifact = value.get("artifactType")
    return Descriptor(_media_type(value.get("mediaType"), f"{path}.mediaType"), digest,
                      _size(value.get("size"), f"{path}.size"),
                      None if artifact is None else
                      _media_type(artifact, f"{path}.artifactType"),
                      _annotations(value.get("annotations"), f"{path}.annotations"))


def _header(raw: dict[str, Any], media_type: str) -> None:
    if raw.get("schemaVersion") != 2 or isinstance(raw.get("schemaVersion"), bool):
        raise _Bad("'schemaVersion' must be 2")
    if raw.get("mediaType", media_type) != media_type:
        raise _Bad(f"'mediaType' is {str(raw.get('mediaType'))[:100]!r}, not {media_type}")


def _descriptors(value: Any, path: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list) or len(value) > MAX_DESCRIPTORS:
        raise _Bad(f"'{path}' must be a list of at most {MAX_DESCRIPTORS} descriptors")
    return tuple(descriptor(item, f"{path}[{i}]") for i, item in enumerate(value))


def parse_manifest(data: bytes, where: str) -> ImageManifest:
    """An OCI image manifest from untrusted bytes; ``where`` names it in errors."""
    raw = _load(data, where)
    try:
        _header(raw, OCI_MANIFEST)
        subject = raw.get("subject")
        artifact = raw.get("artifactType")
        return ImageManifest(
            descriptor(raw.get("config"), "config"),
            _descriptors(raw.get("layers"), "layers"),
            None if artifact is None else _media_type(artifact, "artifactType"),
            None if subject is None else descriptor(subject, "subject"),
            _annotations(raw.get("annotations"), "annotations"))
    except _Bad as exc:
        raise _fail(where, str(exc)) from None


def parse_index(data: bytes, where: str) -> Index:
    """An OCI image index from untrusted bytes (the referrers list, or its fallback tag)."""
    raw = _load(data, where)
    try:
        _header(raw, OCI_INDEX)
        return Index(_descriptors(raw.get("manifests"), "manifests"),
                     _annotations(raw.get("annotations"), "annotations"))
    except _Bad as exc:
        raise _fail(where, str(exc)) from None
