"""``load_package``: validate and verify first, then cache, install, import, and check.

No packaged code runs before the package has passed validation (and verification, when a
trust policy is given).  The verified wheel is installed into a content-addressed cache
entry (``cache.py``) and imported privately (``isolation.py``) with a ``cloaca`` module of
its own; then the tasks the decorators registered are compared with the manifest, and any
drift refuses the load.
"""

from __future__ import annotations

import ast
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import cache as cache_mod
from .cloaca_compat import Registry, make_module, real_cloaca
from ..errors import PackageError
from ..findings import Finding, error
from ..project.fingerprint import fingerprint_function
from ..fsutil import file_sha256
from .isolation import PackageImporter
from ..format.limits import DEFAULT_LIMITS, Limits
from ..format.package import open_package
from ..ops.validate import ValidationPolicy, validate_package, verify_package
from ..trust.policy import SignatureCheck, TrustPolicy, signature_findings


class DriftError(PackageError):
    code = "drift"


@dataclass
class LoadedPackage:
    name: str
    version: str
    digest: str
    manifest: dict[str, Any]
    importer: PackageImporter
    registry: Registry | None
    entry: Path | None
    warm: bool = False
    rebuilt: bool = False
    verified_by: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def workflow(self) -> dict[str, Any]:
        return self.manifest["workflow"]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return self.manifest["workflow"]["tasks"]

    def function(self, task_id: str) -> Callable[..., Any]:
        task = next((t for t in self.tasks if t["id"] == task_id), None)
        if task is None:
            raise KeyError(task_id)
        module_name, _, qualname = task["function"].partition(":")
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

    def __exit__(self, *exc) -> None:
        self.unload()


def load_package(path: Path | str, *, trust: TrustPolicy | None = None,
                 cache_dir: Path | str | None = None, limits: Limits = DEFAULT_LIMITS,
                 use_real_cloaca: bool | None = None) -> LoadedPackage:
    """Load a package for execution.

    ``trust``: a :class:`TrustPolicy`; when given, the package must verify under it (a
    signature is required). Without it, the package must still validate, and its
    signatures, if any, are reported but not required.
    """
    path = Path(path)
    cache_dir = Path(cache_dir) if cache_dir else cache_mod.default_cache_dir()
    try:
        head = open_package(path, limits)
    except PackageError as exc:  # TODO(merge): read side: an unusable manifest is refused
        if not exc.findings:
            raise
        raise PackageError(f"{path} cannot be loaded: its manifest is unusable",
                           code="load-refused", findings=exc.findings, hint=exc.hint) from None
    digest = head.digest
    with cache_mod.locked(cache_dir, digest):
        entry, why = cache_mod.check_entry(cache_dir, digest)
        outcome = _warm_outcome(head, entry, trust) if entry is not None else None
        warm = outcome is not None
        rebuilt = why is not None
        if warm:
            verified_by, warnings = _judge_warm(head, outcome, trust)
        else:
            entry, verified_by, warnings = _cold(path, head, cache_dir, digest, trust, limits)
    loaded = _import(head, entry, use_real_cloaca)
    loaded.warm, loaded.rebuilt = warm, rebuilt and not warm
    loaded.verified_by, loaded.warnings = verified_by, warnings
    return loaded


def _policy(trust: TrustPolicy | None) -> TrustPolicy:
    """With a trust policy a signature is required, exactly as ``verify_package`` does."""
    from ..trust.policy import require

    return require(trust) if trust is not None else TrustPolicy()


def _warm_outcome(head, entry, trust: TrustPolicy | None):
    """The signature judgement for a warm load, or None when the entry cannot serve.

    A warm entry serves only if the signatures in hand verify against what the entry was
    verified from: the same signed bytes (the archive digest), a canonical trailer, and,
    for a detached .sig, the file's own hash.  The code served is the entry's, which was
    verified when it was made and is re-hashed on every load."""
    from ..format.archive import DEFAULT_MTIME
    from ..trust.policy import trailer_is_canonical

    policy = _policy(trust)
    if head.signature_members and entry.meta.get("archive") is None:
        return None
    epoch = head.manifest.build.source_date_epoch  # TODO(merge): minimal edit by the read side
    epoch = DEFAULT_MTIME if epoch is None else epoch
    trailer_ok = not head.signature_members or trailer_is_canonical(
        head.path, head.frames, head.signature_members, epoch)
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


def _cold(path: Path, head, cache_dir: Path, digest: str, trust: TrustPolicy | None,
          limits: Limits):
    with tempfile.TemporaryDirectory(prefix=".load-", dir=cache_dir) as tmp:
        kept = Path(tmp) / "payload"
        if trust is not None:
            report = verify_package(path, trust, limits, keep_payload=kept)
        else:
            report = validate_package(path, ValidationPolicy(limits=limits),
                                      keep_payload=kept)
        if not report.ok:
            raise PackageError(f"{path} cannot be loaded: it failed "
                               f"{'verification' if trust else 'validation'}",
                               code="load-refused", findings=report.errors,
                               hint="run 'cloacinactl validate' (or verify) for details")
        if report.digest != digest:
            raise PackageError(f"{path} changed while it was being loaded; nothing was "
                               "cached", code="load-refused")
        if head.manifest.payload.kind != "wheel":
            raise PackageError(f"{head.name} {head.version} has a native payload; this "
                               "loader runs Python (wheel) packages, and the engine loads "
                               "native ones", code="load-native")
        wheel = kept.rename(Path(tmp) / head.manifest.payload.filename)
        entry = cache_mod.build_entry(
            cache_dir, digest, wheel=wheel, package_toml=head.package_toml,
            manifest=head.manifest_bytes,
            meta={"package": head.name, "package_version": head.version,
                  "archive": report.archive_digest})
    return entry, report.verified_by, report.warnings


def _import(head, entry, use_real_cloaca: bool | None) -> LoadedPackage:
    real = real_cloaca() if use_real_cloaca is not False else None
    if use_real_cloaca and real is None:
        raise PackageError("the real cloaca runtime is not importable here",
                           code="cloaca-missing")
    registry = None if real is not None else Registry()
    provided = {"cloaca": real if real is not None else make_module(registry)}
    importer = PackageImporter([entry.site], provided, label=f"{head.name} {head.version}")
    loaded = LoadedPackage(head.name, head.version, head.digest,
                           head.manifest.to_dict(),  # TODO(merge): read side, minimal edit
                           importer,
                           registry, entry.path)
    entry_module = head.manifest.workflow.entry_module
    try:
        importer.import_module(entry_module)
    except Exception as exc:
        importer.clear()
        raise PackageError(f"importing {entry_module} from {head.name} {head.version} "
                           f"failed: {type(exc).__name__}: {exc}", code="import-failed") from exc
    drift = drift_findings(loaded)
    if drift:
        loaded.unload()
        raise DriftError(f"{head.name} {head.version}: the imported code does not match its "
                         "manifest; refusing to load it", findings=drift)
    return loaded


def drift_findings(loaded: LoadedPackage) -> list[Finding]:
    """The registered tasks against the manifest: ids, edges, functions and fingerprints."""
    out: list[Finding] = []
    declared = {t["id"]: t for t in loaded.tasks}
    if loaded.registry is not None:
        registered = loaded.registry.tasks
        for dup in loaded.registry.duplicates:
            out.append(error("drift", f"task '{dup}' was registered twice at import"))
        for task_id in sorted(set(declared) - set(registered)):
            out.append(error("drift", f"task '{task_id}' is in the manifest but was not "
                             "registered when the package was imported"))
        for task_id in sorted(set(registered) - set(declared)):
            out.append(error("drift", f"task '{task_id}' was registered at import but is not "
                             "in the manifest"))
        functions = {tid: r.function for tid, r in registered.items() if tid in declared}
        for tid, reg in registered.items():
            if tid in declared and sorted(reg.dependencies) != sorted(
                    declared[tid]["dependencies"]):
                out.append(error("drift", f"task '{tid}' was registered with dependencies "
                                 f"{sorted(reg.dependencies)}, the manifest says "
                                 f"{sorted(declared[tid]['dependencies'])}"))
            if tid in declared and reg.qualified_name != declared[tid]["function"]:
                out.append(error("drift", f"task '{tid}' is {reg.qualified_name} at run time, "
                                 f"{declared[tid]['function']} in the manifest"))
    else:
        functions = {}
        for tid in declared:
            try:
                functions[tid] = loaded.function(tid)
            except (AttributeError, ImportError) as exc:
                out.append(error("drift", f"task '{tid}': {exc}"))
    for tid, func in sorted(functions.items()):
        actual = source_fingerprint(func)
        if actual != declared[tid]["fingerprint"]:
            out.append(error("drift", f"task '{tid}': the imported source does not match the "
                             "manifest's fingerprint"))
    return out


def source_fingerprint(func: Callable[..., Any]) -> str | None:
    """Fingerprint of ``func`` from the source file it was imported from."""
    func = getattr(func, "__wrapped__", func)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    try:
        tree = ast.parse(Path(code.co_filename).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                node.name == func.__name__ and code.co_firstlineno in (
                    node.lineno, *(d.lineno for d in node.decorator_list)):
            return fingerprint_function(node)
    return None
