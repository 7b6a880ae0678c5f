"""``read_head``: the first two members of an engine archive, when they are the ones
``package --format engine`` writes first (``NAME-VERSION/package.toml``, then
``NAME-VERSION/.cloacina-build/manifest.json``), read with a bounded decompression and
nothing after them.

This is what lets ``inspect`` show an archive written here in time independent of its
size.  It proves nothing about the rest of the archive: the full reader
(:func:`~cloacina_build.format.engine.archive.open_engine`, what ``validate`` runs) checks
the manifest against the source.  Any surprise (another first member, a link, a size over
our bounds, a corrupt or truncated stream) is not an error here: it returns ``None`` and
the caller reads the whole archive as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import PackageError
from . import rules, tar
from .archive import BUILD_MANIFEST, EngineMember
from .bzip import ENGINE, FirstStream, sniff

PACKAGE_TOML = "package.toml"


@dataclass(frozen=True)
class EngineHead:
    path: Path
    file_size: int
    root: str                      # NAME-VERSION, the first member's directory
    package_toml: bytes
    build_manifest: bytes
    members: tuple[EngineMember, EngineMember]


def head_bound(limits: rules.EngineLimits) -> int:
    """Decompressed bytes read at most: both members at their bounds, with their headers
    and extension records."""
    per_entry = 3 * (limits.max_record + 2 * tar.BLOCK) + 2 * tar.BLOCK
    return limits.max_package_toml + limits.max_manifest + 2 * per_entry


def read_head(path: Path | str, limits: rules.EngineLimits = rules.DEFAULT_ENGINE_LIMITS
              ) -> EngineHead | None:
    """The head of the archive at ``path``, or ``None`` when it does not start with the two
    members this tool writes first (or cannot be read that far)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            if sniff(fh.read(4)) != ENGINE:
                return None
            fh.seek(0)
            stream = FirstStream(fh, head_bound(limits))
            reader = tar.TarReader(stream.read, limits.max_record)
            first = _member(reader, None, limits.max_package_toml)
            if first is None:
                return None
            root = first[0].name.split("/", 1)[0]
            second = _member(reader, f"{root}/{BUILD_MANIFEST}", limits.max_manifest)
            if second is None:
                return None
    except (OSError, PackageError, rules.Refused):
        return None
    return EngineHead(path, size, root, first[1], second[1], (first[0], second[0]))


def _member(reader: tar.TarReader, expected: str | None, bound: int
            ) -> tuple[EngineMember, bytes] | None:
    """The next member when it is a regular file named ``expected`` (the first: any
    ``ROOT/package.toml``) of at most ``bound`` bytes, with its data."""
    header = reader.next_header()
    if header is None or rules.kind_of(header) != rules.FILE or header.size > bound:
        return None
    name = rules.member_name(header.path)
    if rules.name_findings(name):
        return None
    if expected is None:
        parts = name.split("/")
        if len(parts) != 2 or parts[1] != PACKAGE_TOML or not parts[0]:
            return None
    elif name != expected:
        return None
    chunks: list[bytes] = []
    reader.data(chunks.append)
    data = b"".join(chunks)
    member = EngineMember(name, header.size, rules.FILE, header.mode,
                          hashlib.sha256(data).hexdigest())
    return member, data
