"""The cache side of ``load_package`` for engine archives (a bzip2 tar of source).

Cold: the archive is validated with the engine's rules (``ops/engine.validate_engine``);
a Rust archive is refused (the engine compiles it; this tool does not); then the archive's
``workflow/`` and ``vendor/`` trees are unpacked (``engine_unpack``) into a private
directory inside the cache, renamed into place as the entry ``engine-m-<sha256 of the
build manifest>`` or ``engine-f-<sha256 of the file>``.  Warm: an intact entry that knows
the file's identity is served without reading the archive again, beyond the key (at most
its first two members, or one hash of the file); its workflow is discovered again from the
entry's ``workflow/`` tree, which ``check_entry`` has just re-hashed.

The import itself (``cloaca`` stand-in, ``workflow/`` then ``vendor/`` appended, the entry
module imported, registrations against the discovered workflow) is the loader's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PackageError
from ..findings import Finding, has_errors
from ..format.engine.discover import discover_python
from ..format.engine.rules import EngineLimits
from ..fsutil import file_identity
from ..model import Manifest, Severity, Workflow
from ..progress import NO_PROGRESS, Progress
from ..project.sources import DiskTree
from ..trust.policy import TrustPolicy
from . import cache as cache_mod
from .engine_unpack import engine_key, key_matches, unpack_source

if TYPE_CHECKING:  # pragma: no cover
    from ..ops.engine import EngineValidation


@dataclass
class Prepared:
    """An engine package's cache entry, ready to import."""

    name: str
    version: str
    digest: str                 # the cache key
    workflow: Workflow          # discovered from the source
    manifest: Manifest | None   # .cloacina-build/manifest.json, when the archive has one
    entry: cache_mod.Entry
    warm: bool = False
    rebuilt: bool = False
    verified_by: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def prepare_engine(path: Path, trust: TrustPolicy | None, cache_dir: Path,
                   limits: EngineLimits, progress: Progress = NO_PROGRESS) -> Prepared:
    """The entry for the engine archive at ``path``: warm, or validated and unpacked
    (each step, and the bytes read, reported to ``progress``)."""
    identity = file_identity(path)  # before anything is read from the file
    verified_by: list[str] = []
    checked = None
    if trust is not None:  # with a trust policy, always cold: signatures are judged there
        checked = _verify(path, trust, limits, progress)
        verified_by = checked.signatures.outcome.verified if checked.signatures else []
    key = engine_key(path, limits)
    with cache_mod.locked(cache_dir, key):
        entry, why = cache_mod.check_entry(cache_dir, key)
        if entry is not None and trust is None and cache_mod.knows(entry, identity):
            served = _warm(entry)
            if served is not None:
                return served
        prepared = _cold(path, key, cache_dir, entry, identity, limits, checked, progress)
    prepared.rebuilt, prepared.verified_by = why is not None, verified_by
    return prepared


def _verify(path: Path, trust: TrustPolicy, limits: EngineLimits, progress: Progress
            ) -> EngineValidation:
    """Every engine rule and the signatures, as ``verify`` judges them (records in the
    second stream, ``FILE.sig``), in one pass that the cold load then uses too."""
    from ..ops.engine import validate_engine
    from ..trust.policy import require

    found = validate_engine(path, limits, trust=require(trust), progress=progress)
    errors = [f for f in found.findings if f.severity is Severity.ERROR]
    if errors:
        raise _failed(path, errors, "verification")
    return found


def _failed(path: Path, errors: list[Finding], what: str) -> PackageError:
    return PackageError(f"{path} cannot be loaded: it failed {what}", code="load-refused",
                        findings=errors,
                        hint="run 'cloacinactl validate' on it for details")


def _warm(entry: cache_mod.Entry) -> Prepared | None:
    """The workflow of an intact engine entry, discovered from its ``workflow/`` tree;
    None when the entry cannot serve (then the load is cold)."""
    meta = entry.meta
    fields = [meta.get(k) for k in ("package", "package_version", "entry_module",
                                    "workflow_name")]
    if meta.get("layout") != "engine" or not all(isinstance(f, str) for f in fields):
        return None
    name, version, entry_module, workflow_name = (str(f) for f in fields)
    found = discover_python(DiskTree(entry.path / "workflow"), entry_module, workflow_name)
    if found.workflow is None or has_errors(found.findings):
        return None
    return Prepared(name, version, str(meta["digest"]), found.workflow, _manifest(entry),
                    entry, warm=True)


def _manifest(entry: cache_mod.Entry) -> Manifest | None:
    path = entry.path / "manifest.json"
    return Manifest.parse(path.read_bytes())[0] if path.is_file() else None


def _cold(path: Path, key: str, cache_dir: Path, old: cache_mod.Entry | None,
          identity: dict[str, int] | None, limits: EngineLimits,
          checked: EngineValidation | None, progress: Progress) -> Prepared:
    """``checked``: the archive already validated (and verified) by this load."""
    from ..ops.engine import validate_engine

    found = checked if checked is not None else \
        validate_engine(path, limits, progress=progress)
    errors = [f for f in found.findings if f.severity is Severity.ERROR]
    if errors:
        raise _failed(path, errors, "validation")
    archive, workflow = found.archive, found.workflow
    assert archive is not None and archive.manifest is not None
    m = archive.manifest
    if m.language == "rust":
        raise PackageError(f"{m.name} {m.version} is a Rust engine archive: the engine "
                           "compiles the crate when it loads it; cloacina-build does not "
                           "build or run Rust source", code="load-native",
                           hint="load it on a Cloacina server or daemon, or build the "
                                "default format with --native-lib to run it here")
    if workflow is None or archive.package_toml is None or not key_matches(key, archive):
        raise PackageError(f"{path} changed while it was being loaded; nothing was cached",
                           code="load-refused", hint="load it again")

    def fill(tmp: Path) -> None:
        progress.phase("unpacking the archive")
        unpack_source(path, tmp, archive, limits)
        if file_identity(path) != identity:
            raise PackageError(f"{path} changed while it was being loaded; nothing was "
                               "cached", code="load-refused", hint="load it again")

    files = {"package.toml": archive.package_toml}
    if archive.build_manifest is not None:
        files["manifest.json"] = archive.build_manifest
    meta = {"layout": "engine", "package": m.name, "package_version": m.version,
            "entry_module": workflow.entry_module, "workflow_name": workflow.name,
            "sources": cache_mod.sources_with(old, identity)}
    entry = cache_mod.make_entry(cache_dir, key, fill, files, meta)
    manifest = archive.built[0]
    return Prepared(str(m.name), str(m.version), key, workflow, manifest, entry,
                    warnings=[f for f in found.findings if f.severity is Severity.WARNING])
