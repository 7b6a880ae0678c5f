"""Bounds applied while reading untrusted packages. Sizes inside archives are never trusted:
every limit is checked against bytes actually counted.

The defaults are sized from what the builder can write: ``max_manifest_size`` holds the
manifest of a workflow of ``rulebook.MAX_TASKS`` tasks (about 450 bytes a task with short
ids and no docs; 670 bytes a task on average fit), and the builder refuses a package whose
manifest or ``package.toml`` would break these limits before it writes anything
(``build/assemble.py``), so every package it writes opens with the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@dataclass(frozen=True)
class Limits:
    max_members: int = 256              # tar members in a package
    max_member_size: int = 2 * GiB      # decompressed bytes of one member
    max_total_size: int = 4 * GiB       # decompressed bytes of the whole tar stream
    max_metadata_size: int = 1 * MiB    # package.toml
    max_signatures: int = 64            # embedded signature records
    max_signature_size: int = 128 * KiB  # one record (a real one is under 2 KiB)
    max_manifest_size: int = 32 * MiB   # manifest.json: grows with the workflow's tasks
    max_ratio: float = 100.0            # decompressed / compressed bytes, whole stream
    ratio_grace: int = 16 * MiB         # the ratio is enforced past this many bytes
    max_window_size: int = 1 << 24      # zstd window: bounds decompressor memory (16 MiB)
    max_wheel_entries: int = 50_000     # files inside the wheel
    max_wheel_size: int = 4 * GiB       # declared uncompressed size of the wheel's files
    max_wheel_ratio: float = 200.0      # per wheel entry, declared size / compressed size
    max_wheel_index: int = 16 * MiB     # the end of a wheel 'ls' keeps (central directory,
                                        # RECORD), and the most RECORD it reads


DEFAULT_LIMITS = Limits()
