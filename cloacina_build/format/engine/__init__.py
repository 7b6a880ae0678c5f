"""Reading the Cloacina engine's own ``.cloacina`` format: a bzip2 tar of source with one
top-level ``NAME-VERSION/`` directory (specified in ``engine-format.md``; see docs/engine.md).

The public API (see ``docs/engine.md``):

* :func:`sniff` / :func:`detect_format` — ``"engine"``, ``"cloacina"`` or ``"unknown"``;
* :func:`open_engine` — one bounded streaming pass into an :class:`EngineArchive`;
* :class:`EngineLimits` — the engine's unpack limits and our own bounds;
* :func:`read_manifest` — a ``package.toml`` seen by the engine's resolver and by its
  Python loader (:class:`EngineManifest`);
* :func:`discover_engine` and :func:`layout_findings` — static discovery and the layout
  rules over an opened archive.

Nothing here imports the archive's code or writes a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_getattr

if TYPE_CHECKING:
    from .archive import BUILD_MANIFEST, EngineArchive, EngineMember, Trailing, open_engine
    from .bzip import CLOACINA, ENGINE, UNKNOWN, detect_format, sniff
    from .discover import ArchiveTree, EngineDiscovery, discover_engine, layout_findings
    from .manifest import METADATA_KEYS, EngineManifest, read_manifest
    from .rules import DEFAULT_ENGINE_LIMITS, STDLIB_DENY, EngineLimits

# Each name is imported from its module when first asked for (PEP 562): telling the two
# formats apart (``bzip.detect_format``, which every command reading a package asks)
# costs no tar reader, and discovery's Python and Rust readers load only for discovery.
_HOMES = {"archive": ["BUILD_MANIFEST", "EngineArchive", "EngineMember", "Trailing",
                      "open_engine"],
          "bzip": ["CLOACINA", "ENGINE", "UNKNOWN", "detect_format", "sniff"],
          "discover": ["ArchiveTree", "EngineDiscovery", "discover_engine",
                       "layout_findings"],
          "manifest": ["METADATA_KEYS", "EngineManifest", "read_manifest"],
          "rules": ["DEFAULT_ENGINE_LIMITS", "STDLIB_DENY", "EngineLimits"]}
__getattr__ = lazy_getattr(__name__, _HOMES, globals())

__all__ = ["BUILD_MANIFEST", "CLOACINA", "DEFAULT_ENGINE_LIMITS", "ENGINE", "METADATA_KEYS",
           "STDLIB_DENY", "UNKNOWN", "ArchiveTree", "EngineArchive", "EngineDiscovery",
           "EngineLimits", "EngineManifest", "EngineMember", "Trailing", "detect_format",
           "discover_engine", "layout_findings", "open_engine", "read_manifest", "sniff"]
