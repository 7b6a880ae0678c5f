"""What a package says about itself: identity, payload, members, build, native facts."""

from __future__ import annotations

from dataclasses import dataclass, field

from .enums import JSON, Language, PayloadKind


@dataclass(frozen=True, slots=True)
class PackageInfo:
    name: str
    version: str
    language: Language
    description: str | None = None
    author: str | None = None
    requires_python: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {"name": self.name, "version": self.version, "language": str(self.language),
                "description": self.description, "author": self.author,
                "requires_python": self.requires_python}


@dataclass(frozen=True, slots=True)
class Payload:
    kind: PayloadKind
    path: str            # "payload/<filename>"
    filename: str
    size: int
    sha256: str
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, JSON]:
        return {"kind": str(self.kind), "path": self.path, "filename": self.filename,
                "size": self.size, "sha256": self.sha256, "tags": list(self.tags)}


@dataclass(frozen=True, slots=True)
class Member:
    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, JSON]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class BuildInfo:
    tool: str
    tool_version: str
    python: str
    backend: str
    source_revision: str | None = None
    source_dirty: bool | None = None
    source_date_epoch: int | None = None

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"tool": self.tool, "tool_version": self.tool_version,
                                "python": self.python, "backend": self.backend,
                                "source_revision": self.source_revision,
                                "source_dirty": self.source_dirty}
        if self.source_date_epoch is not None:
            out["source_date_epoch"] = self.source_date_epoch
        return out


@dataclass(frozen=True, slots=True)
class NativeFacts:
    """What was read from a native payload's ELF binary."""

    target: str
    os: str
    arch: str
    elf_class: int
    machine: str
    endianness: str
    glibc_floor: str | None
    needed: tuple[str, ...]
    exported_symbols: tuple[str, ...]

    def to_dict(self) -> dict[str, JSON]:
        return {"target": self.target, "os": self.os, "arch": self.arch,
                "elf_class": self.elf_class, "machine": self.machine,
                "endianness": self.endianness, "glibc_floor": self.glibc_floor,
                "needed": list(self.needed), "exported_symbols": list(self.exported_symbols)}


@dataclass(frozen=True, slots=True)
class PackageMetadata:
    """``package.toml`` as stored in a package: the identity and the project's metadata."""

    name: str
    version: str
    metadata: dict[str, JSON] = field(default_factory=dict)
