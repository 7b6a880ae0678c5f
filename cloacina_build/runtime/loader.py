"""``load_package``: validate and verify first, then cache, install, import, and check.

No packaged code runs before the package has passed validation (and verification, when a
trust policy is given).  The verified wheel is installed into a content-addressed cache
entry (``cache.py``) and imported privately (``isolation.py``) with a ``cloaca`` module of
its own; then the tasks the decorators registered are compared with the manifest, and any
drift refuses the load.
"""

from __future__ import annotations

import ast
import collections
import functools
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PackageError
from ..findings import Finding, error
from ..format.engine import DEFAULT_ENGINE_LIMITS, ENGINE, EngineLimits, detect_format
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import open_package
from ..fsutil import default_cache_dir, file_identity, file_sha256
from ..model import Manifest, PayloadKind, Task, Workflow
from ..ops.validate import ValidationPolicy, validate_package, verify_package
from ..progress import NO_PROGRESS, Progress
from ..project.fingerprint import fingerprint_function
from ..trust.policy import SignatureCheck, TrustPolicy, require, signature_findings
from . import cache as cache_mod
from .cloaca_compat import Registry, make_module, real_cloaca
from .drift import registry_drift, resolved_functions
from .isolation import PackageImporter
from .remote import from_registry

if TYPE_CHECKING:
    from ..oci.auth import Credentials


class DriftError(PackageError):
    code = "drift"


@dataclass
class LoadedPackage:
    """A package whose code is imported and checked against its manifest.

    ``workflow`` and ``tasks`` are the typed model (:class:`~cloacina_build.model.Workflow`,
    :class:`~cloacina_build.model.Task`); ``manifest`` is the whole typed
    :class:`~cloacina_build.model.Manifest` (None for a project loaded from source by
    :mod:`cloacina_build.testing`)."""

    name: str
    version: str
    digest: str
    workflow: Workflow
    importer: PackageImporter
    registry: Registry | None
    entry: Path | None
    manifest: Manifest | None = None
    warm: bool = False
    rebuilt: bool = False
    verified_by: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self.workflow.tasks

    @functools.cached_property
    def task_index(self) -> dict[str, Task]:
        """The tasks by id (built once)."""
        return {t.id: t for t in self.workflow.tasks}

    def task(self, task_id: str) -> Task:
        return self.task_index[task_id]

    def function(self, task_id: str) -> Callable[..., Any]:
        """The callable of task ``task_id`` (KeyError for an unknown id)."""
        module_name, _, qualname = self.task_index[task_id].function.partition(":")
        target: Any = self.importer.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        return target

    def module(self, name: str) -> types.ModuleType:
        return self.importer.import_module(name)

    def unload(self) -> None:
        """Forget the package's modules and registrations (the cache entry stays)."""
        self.importer.clear()
        if self.registry is not None:
            self.registry.tasks.clear()

    def __enter__(self) -> LoadedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unload()


def load_package(path: Path | str, *, trust: TrustPolicy | None = None,
                 cache_dir: Path | str | None = None, limits: Limits = DEFAULT_LIMITS,
                 use_real_cloaca: bool | None = None,
                 engine_limits: EngineLimits = DEFAULT_ENGINE_LIMITS,
                 progress: Progress = NO_PROGRESS, plain_http: bool = False,
                 auth: Credentials | None = None) -> LoadedPackage:
    """Load a package for execution: this tool's (zstd, a wheel) or the engine's archive
    (bzip2 source, told apart by its first bytes; see docs/engine.md#running).  ``path``
    may be an ``oci://`` reference, fetched into the cache (``remote.py``).

    ``trust``: a :class:`TrustPolicy`; when given, the package must verify under it (a
    signature is required). Without it, the package must still validate, and its
    signatures, if any, are reported but not required.  ``progress`` hears each step (a
    cold load reads the whole file) and the bytes read.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path, trust = from_registry(path, trust, cache_dir, plain_http, auth, progress)
    if path.is_file() and detect_format(path) == ENGINE:
        return _load_engine(path, trust, cache_dir, engine_limits, use_real_cloaca, progress)
    identity = file_identity(path)  # before anything is read from the file
    try:
        head = open_package(path, limits)
    except PackageError as exc:  # an unusable manifest is refused, with its findings
        if not exc.findings:
            raise
        raise PackageError(f"{path} cannot be loaded: its manifest is unusable",
                           code="load-refused", findings=exc.findings, hint=exc.hint) from None
    try:
        loaded, warm, rebuilt, verified_by, warnings = _through_cache(
            path, head, cache_dir, identity, trust, limits, use_real_cloaca, progress)
    except OSError as exc:
        if not cache_mod.is_cache_error(cache_dir, exc):
            raise
        raise cache_mod.unusable(cache_dir, exc) from None
    loaded.warm, loaded.rebuilt = warm, rebuilt and not warm
    loaded.verified_by, loaded.warnings = verified_by, warnings
    return loaded


def _load_engine(path: Path, trust: TrustPolicy | None, cache_dir: Path,
                 limits: EngineLimits, use_real_cloaca: bool | None, progress: Progress
                 ) -> LoadedPackage:
    """An engine archive: validated and unpacked into the cache (``engine_loader``), then
    imported as the engine's Python loader imports it (``workflow/``, then ``vendor/``,
    appended after the host's own modules)."""
    from .engine_loader import prepare_engine

    try:
        ready = prepare_engine(path, trust, cache_dir, limits, progress)
    except OSError as exc:
        if cache_mod.is_cache_error(cache_dir, exc):
            raise cache_mod.unusable(cache_dir, exc) from None
        raise PackageError(f"cannot read {path}: {(exc.strerror or 'error').lower()}",
                           code="load-refused", hint="check the file and load it again") \
            from None
    progress.phase("importing the workflow")
    loaded = _import((ready.name, ready.version, ready.digest), ready.workflow, ready.manifest,
                     ready.entry, use_real_cloaca, engine=True)
    loaded.warm, loaded.rebuilt = ready.warm, ready.rebuilt and not ready.warm
    loaded.verified_by, loaded.warnings = ready.verified_by, ready.warnings
    return loaded


def _through_cache(path: Path, head, cache_dir: Path, identity, trust: TrustPolicy | None,
                   limits: Limits, use_real_cloaca: bool | None, progress: Progress):
    """The entry for the head's digest, warm or cold, and the package imported from it."""
    digest = head.digest
    with cache_mod.locked(cache_dir, digest):
        entry, why = cache_mod.check_entry(cache_dir, digest)
        outcome = manifest = None
        if entry is not None and cache_mod.knows(entry, identity):
            # an intact entry exists only for a manifest that validated, and it serves only
            # a file with the identity of one it was verified from
            manifest = head.manifest
            outcome = _warm_outcome(head, manifest, entry, trust)
        warm = outcome is not None
        rebuilt = why is not None
        if outcome is not None and manifest is not None:
            verified_by, warnings = _judge_warm(head, outcome, trust)
        else:
            sources = _Sources(entry, identity)
            entry, manifest, verified_by, warnings = _cold(path, head, cache_dir, sources,
                                                           trust, limits, progress)
    assert entry is not None
    progress.phase("importing the workflow")
    loaded = _import((head.name, head.version, head.digest), manifest.workflow, manifest, entry,
                     use_real_cloaca)
    return loaded, warm, rebuilt, verified_by, warnings


def _policy(trust: TrustPolicy | None) -> TrustPolicy:
    """With a trust policy a signature is required, exactly as ``verify_package`` does."""
    return require(trust) if trust is not None else TrustPolicy()


def _warm_outcome(head, manifest: Manifest, entry, trust: TrustPolicy | None):
    """The signature judgement for a warm load, or None when the entry cannot serve.

    A warm entry serves only if the signatures in hand verify against what the entry was
    verified from: the same signed bytes (the archive digest), a canonical trailer, and,
    for a detached .sig, the file's own hash.  The code served is the entry's, which was
    verified when it was made and is re-hashed on every load."""
    from ..format.archive import DEFAULT_MTIME
    from ..ops.trailer import trailer_is_canonical

    policy = _policy(trust)
    if head.signature_members and entry.meta.get("archive") is None:
        return None
    trailer_ok = True
    if head.signature_members:
        epoch = manifest.build.source_date_epoch
        trailer_ok = trailer_is_canonical(head.path, head.frames, head.signature_members,
                                          DEFAULT_MTIME if epoch is None else epoch)
    check = SignatureCheck(head.name, head.version, head.digest, entry.meta.get("archive"),
                           head.signature_members, trailer_ok=trailer_ok,
                           file_sha256=file_sha256(head.path) if policy.detached else None)
    outcome = signature_findings(check, policy)
    if any(f.severity == "error" for f in outcome.findings):
        return None
    return outcome


def _judge_warm(head, outcome, trust) -> tuple[list[str], list[Finding]]:
    from ..trust.policy import check_rollback

    policy = _policy(trust)
    warnings = [f for f in outcome.findings if f.severity != "error"]
    if policy.state_file is not None:
        refused = check_rollback(policy.state_file, head.name, head.version,
                                 allow=policy.allow_rollback)
        if refused:
            raise PackageError(f"{head.path} was refused", code="rollback",
                               findings=[refused])
    return outcome.verified, warnings


@dataclass(frozen=True)
class _Sources:
    """For a cold load: the intact entry it replaces (if any) and the file's identity
    taken before the file was read."""

    entry: cache_mod.Entry | None
    before: dict[str, int] | None

    def after(self, path: Path) -> list[dict]:
        """The identities the new entry records: the file's is added only if it did not
        change while it was verified (else the next load is cold again)."""
        now = file_identity(path)
        return cache_mod.sources_with(self.entry, now if now == self.before else None)


def _cold(path: Path, head, cache_dir: Path, sources: _Sources, trust: TrustPolicy | None,
          limits: Limits, progress: Progress
          ) -> tuple[cache_mod.Entry, Manifest, list[str], list[Finding]]:
    """Validate (or verify) in one pass, then install the verified wheel as a new entry;
    the manifest is parsed into the model only once it has validated."""
    digest = head.digest
    with tempfile.TemporaryDirectory(prefix=".load-", dir=cache_dir) as tmp:
        kept = Path(tmp) / "payload"
        if trust is not None:
            report = verify_package(path, trust, limits, keep_payload=kept,
                                    progress=progress)
        else:
            report = validate_package(path, ValidationPolicy(limits=limits),
                                      keep_payload=kept, progress=progress)
        if not report.ok:
            raise PackageError(f"{path} cannot be loaded: it failed "
                               f"{'verification' if trust else 'validation'}",
                               code="load-refused", findings=report.errors,
                               hint="run 'cloacinactl validate' (or verify) for details")
        if report.digest != digest:
            raise PackageError(f"{path} changed while it was being loaded; nothing was "
                               "cached", code="load-refused")
        manifest = head.manifest
        payload = manifest.payload
        if payload.kind != PayloadKind.WHEEL:
            raise PackageError(f"{head.name} {head.version} has a native payload; this "
                               "loader runs Python (wheel) packages, and the engine loads "
                               "native ones", code="load-native")
        wheel = kept.rename(Path(tmp) / payload.filename)
        progress.phase("installing the wheel")
        entry = cache_mod.build_entry(
            cache_dir, digest, wheel=wheel, package_toml=head.package_toml,
            manifest=head.manifest_bytes,
            meta={"package": head.name, "package_version": head.version,
                  "archive": report.archive_digest, "sources": sources.after(path)})
    return entry, manifest, report.verified_by, report.warnings


def _import(ident: tuple[str, str, str], workflow: Workflow, manifest: Manifest | None,
            entry: cache_mod.Entry, use_real_cloaca: bool | None, *,
            engine: bool = False) -> LoadedPackage:
    """Import the entry module privately from the entry's roots and check the tasks its
    decorators registered against ``workflow``.  ``engine``: the engine's semantics (host
    modules win over the package's, but for the entry module's top-level name; a package
    that registers no task is refused as the engine's "Empty package")."""
    name, version, _digest = ident
    real = real_cloaca() if use_real_cloaca is not False else None
    if use_real_cloaca and real is None:
        raise PackageError("the real cloaca runtime is not importable here",
                           code="cloaca-missing")
    registry = None if real is not None else Registry()
    provided = {"cloaca": real if real is not None else make_module(registry)}
    entry_module = workflow.entry_module
    importer = PackageImporter(entry.roots, provided, label=f"{name} {version}",
                               host_first=engine, keep=frozenset({entry_module.split(".")[0]}))
    loaded = LoadedPackage(*ident, workflow, importer, registry, entry.path, manifest=manifest)
    try:
        importer.import_module(entry_module)
    except Exception as exc:
        importer.clear()
        raise PackageError(f"importing {entry_module} from {name} {version} "
                           f"failed: {type(exc).__name__}: {exc}", code="import-failed") from exc
    if engine and registry is not None and not registry.tasks:
        loaded.unload()
        raise PackageError(f"{name} {version}: Empty package: importing {entry_module} "
                           "registered no task (the engine's Python loader refuses it)",
                           code="engine-no-tasks", hint="tasks must be registered at import "
                           "time, by @cloaca.task at module level")
    drift = drift_findings(loaded)
    if drift:
        loaded.unload()
        raise DriftError(f"{name} {version}: the imported code does not match its "
                         "manifest; refusing to load it", findings=drift)
    return loaded


def drift_findings(loaded: LoadedPackage) -> list[Finding]:
    """The registered tasks against the manifest: ids, edges, functions and fingerprints.

    Linear in the number of tasks: every registration is looked up by id, and each source
    file is parsed once (:func:`source_fingerprints`)."""
    declared = loaded.task_index
    if loaded.registry is not None:
        out, functions = registry_drift(loaded.registry, declared)
    else:
        out, functions = resolved_functions(declared, loaded.function)
    actual = source_fingerprints(functions)
    for tid in sorted(functions):
        if actual[tid] != declared[tid].fingerprint:
            out.append(error("drift", f"task '{tid}': the imported source does not match the "
                             "manifest's fingerprint"))
    return out


_Definition = ast.FunctionDef | ast.AsyncFunctionDef


def source_fingerprints(functions: dict[str, Callable[..., Any]]) -> dict[str, str | None]:
    """The fingerprint of each function from the source file it was imported from (None
    when that cannot be read).  Functions are grouped by file and each file is parsed
    once; its syntax tree is dropped before the next file is read, so memory stays at one
    file's tree."""
    by_file: dict[str, list[tuple[str, str, int]]] = {}
    out: dict[str, str | None] = {}
    for key, func in functions.items():
        func = getattr(func, "__wrapped__", func)
        code = getattr(func, "__code__", None)
        out[key] = None
        if code is not None:
            by_file.setdefault(code.co_filename, []).append(
                (key, func.__name__, code.co_firstlineno))
    for filename, wanted in by_file.items():
        table = _definitions(filename)
        for key, name, line in wanted:
            node = table.get((name, line)) if table else None
            out[key] = fingerprint_function(node) if node is not None else None
    return out


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _definitions(filename: str) -> dict[tuple[str, int], _Definition] | None:
    try:
        tree = ast.parse(Path(filename).read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    table: dict[tuple[str, int], _Definition] = {}
    queue: collections.deque[ast.AST] = collections.deque([tree])
    while queue:  # breadth first over statements only: definitions live in no expression
        node = queue.popleft()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in (node.lineno, *(d.lineno for d in node.decorator_list)):
                table.setdefault((node.name, line), node)
        for name in _BODIES:
            children = getattr(node, name, None)
            if isinstance(children, list):
                queue.extend(children)
    return table


def source_fingerprint(func: Callable[..., Any]) -> str | None:
    """Fingerprint of ``func`` from the source file it was imported from."""
    return source_fingerprints({"": func})[""]
