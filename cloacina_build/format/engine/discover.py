"""Static discovery over an engine archive's source (never imported), and the layout rules
that need the resolved manifest (engine-format §2.3, §2.7, §2.9).

:class:`ArchiveTree` is a :class:`~cloacina_build.project.sources.SourceTree` over the
archive's ``workflow/`` files kept in memory, so Python discovery
(:func:`cloacina_build.project.discovery.discover`) yields the same tasks, dependencies,
triggers, params, secrets and fingerprints as for the same project built here.  Rust
archives are read by the crate scanner over ``src/**.rs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...findings import Finding, error, has_errors
from ...model import Workflow
from ...project.discovery import Discovery, discover
from ...project.fingerprint import ALGORITHM, workflow_fingerprint
from ...project.graph import graph_findings
from ...project.sources import SourceTooLarge, SourceTree
from . import rules
from .archive import EngineArchive
from .rules import Dirs


class ArchiveTree:
    """Files under ``base/`` of an archive's root (``workflow`` for Python); ``display``
    names them from the root, as a project's files are shown (``workflow/m/tasks.py``)."""

    def __init__(self, archive: EngineArchive, base: str = "workflow") -> None:
        self.base = base
        prefix = f"{base}/"
        self.files = {k[len(prefix):]: v for k, v in archive.sources.items()
                      if k.startswith(prefix)}
        self.too_large = {k[len(prefix):] for k in archive.too_large if k.startswith(prefix)}
        self.all_files = {n[len(prefix):] for n in archive.names() if n.startswith(prefix)}
        self.dirs = archive.dirs()

    def read(self, relpath: str) -> bytes | None:
        if relpath in self.too_large:
            raise SourceTooLarge(self.display(relpath))
        return self.files.get(relpath)

    def is_file(self, relpath: str) -> bool:
        return relpath in self.all_files

    def is_dir(self, relpath: str) -> bool:
        return f"{self.base}/{relpath}" in self.dirs

    def display(self, relpath: str) -> str:
        return f"{self.base}/{relpath}"


@dataclass
class EngineDiscovery:
    """What the archive's source declares: the typed workflow (None when it could not be
    read), its findings, and the execution levels."""

    workflow: Workflow | None
    discovery: Discovery
    findings: list[Finding] = field(default_factory=list)


def discover_engine(archive: EngineArchive) -> EngineDiscovery:
    """Discovery over the archive's source, by the resolved manifest's language."""
    m = archive.manifest
    if m is None or m.resolved is None:
        return EngineDiscovery(None, Discovery())
    if m.language == "rust":
        return _rust(archive, m.workflow_name)
    if m.language != "python" or m.entry_module is None:
        return EngineDiscovery(None, Discovery())
    name = m.workflow_name or "unknown"  # §2.9: the loader's namespace when absent
    return discover_python(ArchiveTree(archive), m.entry_module, name)


def discover_python(tree: SourceTree, entry_module: str, name: str) -> EngineDiscovery:
    """Python discovery over an engine package's ``workflow/`` tree (in an archive, or
    unpacked into the loader's cache), with the engine's "Empty package" rule."""
    found = discover(tree, entry_module, name)
    if not found.tasks and not has_errors(found.findings):
        found.findings.append(error("engine-no-tasks", "no @cloaca.task in the entry module "
                                    "or what it imports: the engine's Python loader fails "
                                    "with 'Empty package' (§2.9)", entry_module))
    elif not has_errors(found.findings):
        found.findings += graph_findings(found.tasks, name, display=tree.display)
    return EngineDiscovery(_workflow(name, entry_module, found, ALGORITHM), found,
                           list(found.findings))


def _workflow(name: str, entry: str, found: Discovery, algorithm: str) -> Workflow:
    tasks = tuple(sorted(found.tasks, key=lambda t: t.id))
    return Workflow(name=name, entry_module=entry,
                    fingerprint=workflow_fingerprint(name, tasks, algorithm),
                    fingerprint_algorithm=algorithm, tasks=tasks,
                    triggers=tuple(sorted(found.triggers, key=lambda t: t.name)),
                    params=tuple(sorted(found.params, key=lambda p: p.name)),
                    secrets=tuple(sorted(found.secrets)))


def _rust(archive: EngineArchive, configured: str | None) -> EngineDiscovery:
    from ...project.rust import scan_sources
    from ...project.rust_lexer import ALGORITHM as RUST_ALGORITHM

    files, findings = [], []
    for rel, data in sorted(archive.sources.items()):
        if rel.startswith("src/") and rel.endswith(".rs"):
            try:
                files.append((rel, data.decode("utf-8")))
            except UnicodeDecodeError:
                findings.append(error("source-syntax", "not UTF-8 text", rel))
    found = scan_sources(files, "src", findings)
    result = Discovery(tasks=list(found.tasks), findings=list(found.findings))
    if found.workflow is None or found.module is None:
        return EngineDiscovery(None, result, list(result.findings))
    if configured and configured != found.workflow:
        result.findings.append(error("config-workflow-name", f"[metadata].workflow_name is "
                                     f"'{configured}' but #[workflow] says "
                                     f"'{found.workflow}'", "package.toml"))
    if not has_errors(result.findings):
        result.findings += graph_findings(result.tasks, found.workflow)
    return EngineDiscovery(_workflow(found.workflow, found.module, result, RUST_ALGORITHM),
                           result, list(result.findings))


def layout_findings(archive: EngineArchive) -> list[Finding]:
    """§2.3 layout by language, §2.3.6 footguns, §2.9 the deny list, §2.7 stray .py files,
    §6.4.10 junk: the checks that need the resolved manifest."""
    return rules.clean(_layout_findings(archive))


def _layout_findings(archive: EngineArchive) -> list[Finding]:
    m = archive.manifest
    if m is None or m.resolved is None:
        return []
    names, dirs = archive.names(), archive.dirs()
    out = rules.junk_findings(names) + rules.stray_python(dict(archive.sources))
    if m.language == "python":
        out += _python_layout(archive, names, dirs)
    elif m.language == "rust":
        out += _rust_layout(archive, names)
    else:
        out.append(error("engine-language", f"[metadata].language is "
                         f"{str(m.language)[:40]!r}: the engine's CLI and reconciler accept "
                         "exactly 'python' or 'rust' (§2.2)", "package.toml"))
    return out


def _python_layout(archive: EngineArchive, names: set[str], dirs: Dirs) -> list[Finding]:
    m = archive.manifest
    assert m is not None
    if "workflow" not in dirs:
        return [error("engine-layout", "no workflow/ directory: package validate and the "
                      "Python loader need it (MissingSourceDir, §2.3, §2.9)")]
    out = rules.shadow_findings(names | dirs.entries)  # a file's parents: its name's
    entry = m.entry_module or ""
    paths = rules.entry_module_paths(entry)
    if not any(p in names for p in paths):
        out.append(error("engine-entry-module", f"entry_module '{entry}' resolves to neither "
                         f"{paths[0]} nor {paths[1]}: package validate refuses it (§2.3)",
                         "package.toml"))
        return out
    source = next((archive.sources[p] for p in paths if p in archive.sources), b"")
    if (b"ComputationGraphBuilder" in source or b"cloaca.reactor" in source) \
            and "graph_name" not in m.metadata:
        out.append(error("engine-footgun", "the entry module builds a computation graph but "
                         "[metadata].graph_name is not set: package validate's lint_footguns "
                         "refuses it (§2.3)", "package.toml"))
    return out


def _rust_layout(archive: EngineArchive, names: set[str]) -> list[Finding]:
    missing = [n for n in ("Cargo.toml", "src/lib.rs") if n not in names]
    if missing:
        return [error("engine-layout", f"a Rust package needs {' and '.join(missing)}: "
                      "package validate refuses it (§2.3)")]
    out = []
    if b"__WORKSPACE__" in archive.sources.get("Cargo.toml", b""):
        out.append(error("engine-footgun", "Cargo.toml still holds __WORKSPACE__: package "
                         "validate's lint_footguns refuses it (§2.3)", "Cargo.toml"))
    lib = archive.sources.get("src/lib.rs", b"")
    if b"computation_graph(" in lib and "graph_name" not in (archive.manifest.metadata
                                                              if archive.manifest else {}):
        out.append(error("engine-footgun", "src/lib.rs declares computation_graph( but "
                         "[metadata].graph_name is not set: lint_footguns refuses it (§2.3)",
                         "src/lib.rs"))
    return out
