"""The manifest as a whole: parsed totally from bytes, written canonically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .enums import JSON
from .package import BuildInfo, Member, NativeFacts, PackageInfo, Payload
from .workflow import Workflow

if TYPE_CHECKING:  # pragma: no cover
    from ..findings import Finding


@dataclass(frozen=True, slots=True)
class Manifest:
    package: PackageInfo
    workflow: Workflow
    payload: Payload
    members: tuple[Member, ...]      # sorted by path
    build: BuildInfo
    native: NativeFacts | None = None
    format: str = "cloacina-package"
    format_version: int = 1

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "format": self.format,
            "format_version": self.format_version,
            "package": self.package.to_dict(),
            "workflow": self.workflow.to_dict(),
            "payload": self.payload.to_dict(),
            "members": [m.to_dict() for m in self.members],
            "build": self.build.to_dict(),
        }
        if self.native is not None:
            out["native"] = self.native.to_dict()
        return out

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, two-space indent, UTF-8, a trailing newline."""
        return canonical_json(self.to_dict())

    @classmethod
    def parse(cls, data: bytes) -> tuple[Manifest | None, list[Finding]]:
        """A model, or findings, for *any* bytes (see :mod:`cloacina_build.manifest_parser`)."""
        from ..manifest_parser import parse_manifest

        return parse_manifest(data, cls)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """The model, or :class:`~cloacina_build.errors.PackageError` with the findings."""
        from ..errors import PackageError

        manifest, findings = cls.parse(data)
        if manifest is None:
            first = findings[0] if findings else None
            raise PackageError(first.message if first else "manifest.json is unusable",
                               code=first.code if first else "manifest-unusable",
                               findings=findings)
        return manifest


def canonical_json(value: JSON) -> bytes:
    """``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)``
    and a newline, as UTF-8 (a faster writer of the same bytes: see canonical.py)."""
    from ..canonical import dumps

    return dumps(value)
