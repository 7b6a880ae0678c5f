"""Read a workflow project: the engine's canonical layout or a PEP 621 project.

``load_project`` returns a :class:`Project` or raises :class:`ProjectError` carrying every
problem found (not just the first).  Nothing here imports or runs user code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import ProjectError, UsageError
from ..findings import Finding, error, has_errors
from ..schema_subset import subset_findings as schema_findings

CANONICAL = "canonical"
PEP621 = "pep621"
CARGO = "cargo"
INTERFACE = "cloacina-workflow-plugin"
INTERFACE_VERSION = 1
EXTENSION = "cloacina"
METADATA_KEYS = (
    "language",
    "workflow_name",
    "entry_module",
    "description",
    "author",
    "requires_python",
)
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


@dataclass
class Project:
    root: Path
    layout: str
    config_file: Path
    name: str
    version: str | None  # None: dynamic in pyproject.toml, known after the build
    metadata: dict[str, Any]
    source_root: Path  # the directory holding the entry module's top-level package
    vendor_dir: Path | None = None
    build_system: dict[str, Any] = field(default_factory=dict)
    cargo: dict[str, Any] = field(default_factory=dict)  # Rust crates: lib name, offline

    @property
    def entry_module(self) -> str:
        return self.metadata["entry_module"]

    @property
    def workflow_name(self) -> str:
        return self.metadata["workflow_name"]

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def snake_case(name: str) -> str:
    return re.sub(r"[-.]+", "_", name).lower()


def find_config(path: Path) -> tuple[Path, str]:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such directory: {path}", hint="pass a workflow project directory")
    if not path.is_dir():
        raise UsageError(f"not a directory: {path}", hint="pass a workflow project directory")
    if (path / "package.toml").is_file():
        return path / "package.toml", CANONICAL
    pyproject, cargo = path / "pyproject.toml", path / "Cargo.toml"
    if pyproject.is_file() and (not cargo.is_file() or "[tool.cloacina]" in
                                pyproject.read_text("utf-8", "replace")):
        return pyproject, PEP621
    if cargo.is_file():
        return cargo, CARGO
    raise UsageError(
        f"{path} is not a workflow project: it has no package.toml, pyproject.toml or "
        "Cargo.toml",
        hint="run it in a project directory, or create one with 'cloacinactl new'",
    )


def read_toml(path: Path, location: str) -> dict[str, Any]:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{location}: cannot read: {exc}", code="config-unreadable") from None
    try:
        return tomlkit.parse(text).unwrap()
    except TOMLKitError as exc:
        raise ProjectError(
            f"{location}: invalid TOML: {exc}", code="config-syntax",
            hint="fix the TOML syntax at the line shown",
        ) from None


def _engine_rejections(meta: dict[str, Any], table: str, loc: str) -> list[Finding]:
    out = []
    if "package_type" in meta:
        out.append(error("config-package-type",
                         f"[{table}] package_type is not accepted: the engine infers the "
                         "payload kind from the project; remove it", loc))
    if "triggers" in meta:
        out.append(error("config-triggers",
                         f"[{table}] triggers are not declared in package metadata; declare "
                         "them in code with @cloaca.trigger(...) and remove them", loc))
    return out


def _check_identity(name: Any, version: Any, loc: str) -> list[Finding]:
    out = []
    if isinstance(name, str) and not _NAME_RE.match(name):
        out.append(error("config-name", f"package name '{name}' is not a valid name "
                         "(letters, digits, '.', '_' and '-', starting and ending with a "
                         "letter or digit)", loc))
    if isinstance(version, str):
        try:
            Version(version)
        except InvalidVersion:
            out.append(error("config-version",
                             f"version '{version}' is not a PEP 440 version (e.g. 1.0.0)", loc))
    return out


def _check_requires_python(spec: Any, loc: str) -> list[Finding]:
    if isinstance(spec, str):
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            return [error("config-requires-python",
                          f"requires_python '{spec}' is not a version specifier "
                          "(e.g. '>=3.10')", loc)]
    return []


def load_project(path: Path | str) -> Project:
    project, findings = inspect_project_config(Path(path))
    if has_errors(findings) or project is None:
        where = findings[0].location if findings else "the project configuration"
        raise ProjectError(f"{where} has configuration errors", code="config",
                           findings=findings, hint="fix the keys named above")
    return project


def inspect_project_config(path: Path) -> tuple[Project | None, list[Finding]]:
    """The project and the configuration findings; the project is None when unusable."""
    config, layout = find_config(path)
    root = path.resolve()
    loc = config.name
    doc = read_toml(config, loc)
    if layout == CANONICAL:
        return _canonical(root, config, doc, loc)
    if layout == CARGO:
        return _cargo(root, config, doc, loc)
    return _pep621(root, config, doc, loc)


def _canonical(root: Path, config: Path, doc: dict, loc: str):
    findings: list[Finding] = []
    meta = doc.get("metadata", {})
    if isinstance(meta, dict):
        findings += _engine_rejections(meta, "metadata", loc)
        checked = {**doc, "metadata": {k: v for k, v in meta.items()
                                       if k not in ("package_type", "triggers")}}
    else:
        checked = doc
    findings += schema_findings(checked, "package", code="config-schema", location=loc)
    pkg: dict[str, Any] = doc["package"] if isinstance(doc.get("package"), dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    name, version = pkg.get("name"), pkg.get("version")
    findings += _check_identity(name, version, loc)
    findings += _check_requires_python(meta.get("requires_python"), loc)
    if not isinstance(name, str) or not isinstance(version, str):
        return None, findings
    workflow_dir = root / "workflow"
    language = meta.get("language") or ("python" if workflow_dir.is_dir() else None)
    if language is None and (root / "Cargo.toml").is_file():
        language = "rust"
    if language != "python":
        findings.append(error(
            "config-language",
            "only Python workflow projects (a workflow/ directory) can be packaged by this "
            f"version; found language {language!r}", loc))
        return None, findings
    if not workflow_dir.is_dir():
        findings.append(error("config-layout", "the canonical layout needs a workflow/ "
                              "directory holding the workflow's module tree", loc))
        return None, findings
    metadata = _fill_metadata(meta, name, language)
    if "entry_module" not in meta:
        metadata["entry_module"] = _infer_entry(workflow_dir, snake_case(name))
    vendor = root / "vendor"
    project = Project(root, CANONICAL, config, name, version, metadata, workflow_dir,
                      vendor if vendor.is_dir() else None)
    findings += _check_entry(project, loc)
    return project, findings


def _infer_entry(source_root: Path, module: str) -> str:
    if (source_root / module / "tasks.py").is_file():
        return f"{module}.tasks"
    return module


def _fill_metadata(meta: dict, name: str, language: str) -> dict[str, Any]:
    metadata = {k: meta[k] for k in METADATA_KEYS if k in meta}
    metadata["language"] = language
    metadata.setdefault("workflow_name", snake_case(name))
    return metadata


def _check_entry(project: Project, loc: str) -> list[Finding]:
    from .sources import module_path

    if module_path(project.source_root, project.entry_module) is None:
        where = project.rel(project.source_root) or "."
        return [error("config-entry-module",
                      f"entry module '{project.entry_module}' not found under {where}/ "
                      "(looked for a module file or a package with __init__.py)", loc)]
    return []


def _pep621(root: Path, config: Path, doc: dict, loc: str):
    findings: list[Finding] = []
    proj = doc.get("project")
    if not isinstance(proj, dict):
        findings.append(error("config-project", "pyproject.toml has no [project] table; "
                              "a PEP 621 workflow project needs one", loc))
        return None, findings
    tool = doc.get("tool", {}).get("cloacina") if isinstance(doc.get("tool"), dict) else None
    if tool is None:
        findings.append(error("config-tool-table", "pyproject.toml has no [tool.cloacina] "
                              "table: add one (it may be empty) to mark a workflow project",
                              loc))
        return None, findings
    if not isinstance(tool, dict):
        findings.append(error("config-tool-table", "[tool.cloacina] must be a table", loc))
        return None, findings
    findings += _engine_rejections(tool, "tool.cloacina", loc)
    tool_checked = {k: v for k, v in tool.items() if k not in ("package_type", "triggers")}
    for f in schema_findings({"package": {"name": "x", "version": "0"},
                              "metadata": tool_checked}, "package",
                             code="config-schema", location=loc):
        findings.append(Finding(f.code, f.severity,
                                f.message.replace("[metadata]", "[tool.cloacina]")
                                .replace("'metadata.", "'tool.cloacina."), f.location))
    name = proj.get("name")
    dynamic = proj.get("dynamic", []) or []
    version = proj.get("version")
    if not isinstance(name, str):
        findings.append(error("config-name", "[project] name is required", loc))
        return None, findings
    if version is None and "version" not in dynamic:
        findings.append(error("config-version", "[project] version is required "
                              "(or list it in dynamic)", loc))
    findings += _check_identity(name, version, loc)
    meta = _pep621_metadata(proj, tool_checked)
    findings += _check_requires_python(meta.get("requires_python"), loc)
    language = meta.get("language", "python")
    if language != "python":
        findings.append(error("config-language", "a pyproject.toml project is a Python "
                              f"project; [tool.cloacina] language is {language!r}", loc))
        return None, findings
    metadata = _fill_metadata(meta, name, language)
    source_root = _pep621_source_root(root, meta, metadata, snake_case(name))
    build_system: dict[str, Any] = doc["build-system"] \
        if isinstance(doc.get("build-system"), dict) else {}
    project = Project(root, PEP621, config, name, version if isinstance(version, str) else None,
                      metadata, source_root, None, build_system)
    if isinstance(metadata.get("entry_module"), str):
        findings += _check_entry(project, loc)
    return project, findings


def _pep621_source_root(root: Path, meta: dict, metadata: dict, top: str) -> Path:
    """``src/`` when the entry module's package lives there (inferring the entry module
    into ``metadata`` when the project names none), else the project root."""
    def in_src(name: str) -> bool:
        return (root / "src" / name).exists() or (root / "src" / f"{name}.py").exists()

    if "entry_module" not in meta:
        source_root = root / "src" if in_src(top) else root
        metadata["entry_module"] = _infer_entry(source_root, top)
        return source_root
    entry = meta["entry_module"]
    first = entry.split(".")[0] if isinstance(entry, str) else top
    return root / "src" if in_src(first) or in_src(top) else root


def _pep621_metadata(proj: dict, tool: dict) -> dict[str, Any]:
    """[tool.cloacina], with what [project] says filling the gaps."""
    meta = dict(tool)
    if "requires_python" not in meta and isinstance(proj.get("requires-python"), str):
        meta["requires_python"] = proj["requires-python"]
    if "description" not in meta and isinstance(proj.get("description"), str):
        meta["description"] = proj["description"]
    authors = proj.get("authors")
    if "author" not in meta and isinstance(authors, list) and authors:
        first = authors[0] if isinstance(authors[0], dict) else {}
        if isinstance(first.get("name"), str):
            meta["author"] = first["name"]
    return meta


def _cargo(root: Path, config: Path, doc: dict, loc: str):
    """A Rust workflow crate: [package], a cdylib [lib], [package.metadata.cloacina]."""
    findings: list[Finding] = []
    pkg = doc.get("package") if isinstance(doc.get("package"), dict) else None
    if pkg is None:
        findings.append(error("config-project", "Cargo.toml has no [package] table", loc))
        return None, findings
    name, version = pkg.get("name"), pkg.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        findings.append(error("config-version", "[package] needs a literal name and version "
                              "(workspace-inherited values are not supported)", loc))
        return None, findings
    findings += _check_identity(name, version, loc)
    lib: dict[str, Any] = doc["lib"] if isinstance(doc.get("lib"), dict) else {}
    if "cdylib" not in (lib.get("crate-type") or []):
        findings.append(error("config-crate-type", "a Rust workflow crate must build a shared "
                              "library: add crate-type = [\"cdylib\", \"rlib\"] to [lib]",
                              loc))
    meta_table = pkg.get("metadata", {}).get("cloacina", {}) if isinstance(
        pkg.get("metadata"), dict) else {}
    if not isinstance(meta_table, dict):
        meta_table = {}
    findings += _engine_rejections(meta_table, "package.metadata.cloacina", loc)
    checked = {k: v for k, v in meta_table.items() if k not in ("package_type", "triggers")}
    for f in schema_findings({"package": {"name": "x", "version": "0"}, "metadata": checked},
                             "package", code="config-schema", location=loc):
        findings.append(Finding(f.code, f.severity, f.message.replace(
            "[metadata]", "[package.metadata.cloacina]"), f.location))
    language = checked.get("language", "rust")
    if language != "rust":
        findings.append(error("config-language", f"a Cargo.toml project is a Rust project; "
                              f"[package.metadata.cloacina] language is {language!r}", loc))
    meta = dict(checked)
    if "description" not in meta and isinstance(pkg.get("description"), str):
        meta["description"] = pkg["description"]
    authors = pkg.get("authors")
    if "author" not in meta and isinstance(authors, list) and authors and \
            isinstance(authors[0], str):
        meta["author"] = re.sub(r"\s*<[^>]*>\s*$", "", authors[0])
    meta.pop("requires_python", None)
    metadata = _fill_metadata(meta, name, "rust")
    metadata.setdefault("entry_module", snake_case(name))
    lib_name = lib.get("name") if isinstance(lib.get("name"), str) else snake_case(name)
    project = Project(root, CARGO, config, name, version, metadata, root / "src",
                      cargo={"lib_name": lib_name, "offline": _offline_ok(root, doc),
                             "workflow_name_set": "workflow_name" in checked,
                             "entry_module_set": "entry_module" in checked})
    if not (root / "src").is_dir():
        findings.append(error("config-layout", "a Rust workflow crate needs src/", loc))
    return project, findings


def _offline_ok(root: Path, doc: dict) -> bool:
    """True when every dependency is a path, or patched with a path, or vendored."""
    if (root / ".cargo" / "config.toml").is_file() and "vendored-sources" in \
            (root / ".cargo" / "config.toml").read_text("utf-8", "replace"):
        return True
    patched = set((doc.get("patch") or {}).get("crates-io", {}) or {})
    for table in ("dependencies", "build-dependencies"):
        for dep, spec in (doc.get(table) or {}).items():
            if isinstance(spec, dict) and "path" in spec:
                continue
            if dep in patched:
                continue
            return False
    return True
