"""Bounds applied while reading untrusted packages. Sizes inside archives are never trusted:
every limit is checked against bytes actually counted."""

from __future__ import annotations

from dataclasses import dataclass

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@dataclass(frozen=True)
class Limits:
    max_members: int = 256              # tar members in a package
    max_member_size: int = 2 * GiB      # decompressed bytes of one member
    max_total_size: int = 4 * GiB       # decompressed bytes of the whole tar stream
    max_metadata_size: int = 1 * MiB    # package.toml, manifest.json, each signature
    max_ratio: float = 100.0            # decompressed / compressed bytes, whole stream
    ratio_grace: int = 16 * MiB         # the ratio is enforced past this many bytes
    max_window_size: int = 1 << 24      # zstd window: bounds decompressor memory (16 MiB)
    max_wheel_entries: int = 50_000     # files inside the wheel
    max_wheel_size: int = 4 * GiB       # declared uncompressed size of the wheel's files
    max_wheel_ratio: float = 200.0      # per wheel entry, declared size / compressed size


DEFAULT_LIMITS = Limits()
