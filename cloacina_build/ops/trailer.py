"""The signature trailer: is a file's last frame exactly what ``sign`` writes?"""

from __future__ import annotations

import io
import json
from pathlib import Path

from ..format.archive import write_trailer
from ..trust.signatures import encode_record


def trailer_is_canonical(path: Path, frames: list, members: list[tuple[str, bytes]],
                         epoch: int) -> bool:
    """The file's last frame is exactly what ``sign`` writes for these signature records."""
    if not frames:
        return False
    last = frames[-1]
    expected = io.BytesIO()
    write_trailer(expected, canonical_trailer_members(members), epoch)
    with open(path, "rb") as fh:
        fh.seek(last.offset)
        return fh.read(last.length + 1) == expected.getvalue()


def canonical_trailer_members(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The order and encoding ``sign`` writes: sorted by name, records re-encoded."""
    out = []
    for name, data in sorted(members):
        try:
            out.append((name, encode_record(json.loads(data))))
        except (ValueError, UnicodeDecodeError, RecursionError):
            out.append((name, data))
    return out
