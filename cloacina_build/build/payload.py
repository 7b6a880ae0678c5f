"""What a payload build hands to the package writer (shared by the wheel and native
builds, so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..model import NativeFacts, PayloadKind
from ..project.discovery import Discovery


@dataclass
class Payload:
    file: Path
    kind: PayloadKind
    tags: list[str]
    version: str
    backend: str
    discovery: Discovery
    native: NativeFacts | None = None
