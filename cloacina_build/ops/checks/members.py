"""The manifest's member list against what the archive holds."""

from __future__ import annotations

from collections.abc import Mapping

from ...findings import Finding, error
from ...format import manifest as mf
from ...model import Manifest


def member_findings(manifest: Manifest, seen: Mapping[str, tuple[int, str]]
                    ) -> list[Finding]:
    """Every listed member present with its size and sha256; nothing unlisted.
    ``seen``: member name -> (size, sha256) as streamed."""
    listed = {m.path: m for m in manifest.members}
    out: list[Finding] = []
    if mf.MANIFEST in listed:
        out.append(error("member-listed-manifest", "the manifest cannot list itself",
                         mf.MANIFEST))
    for path, entry in sorted(listed.items()):
        if path == mf.MANIFEST:
            continue
        if path not in seen:
            out.append(error("member-missing", "listed in the manifest but not in the "
                             "archive", path))
            continue
        size, sha = seen[path]
        if size != entry.size:
            out.append(error("digest-size-mismatch", f"size is {size} bytes, the manifest "
                             f"says {entry.size}", path))
        if sha != entry.sha256:
            out.append(error("digest-mismatch", f"sha256 is {sha[:16]}..., the manifest "
                             f"says {entry.sha256[:16]}... (tampered or corrupt)", path))
    for path in sorted(set(seen) - set(listed)):
        out.append(error("member-unlisted", "present in the archive but not listed in the "
                         "manifest", path))
    return out
