"""An engine archive's ``package.toml`` seen the two ways the engine reads it (§2.2).

* **The resolver** (``load_resolved_manifest``: ``package validate``, server upload, the
  reconciler, the compiler) applies defaults (``interface``, ``interface_version``,
  ``extension``, ``[metadata]``, the language inferred from the layout, ``entry_module`` =
  ``name.replace('-', '_') + '.tasks'``), then checks the typed schema and
  ``validate_runtime``.
* **The raw loader** (``fidius_core::package::load_manifest``: the Python loader) applies no
  defaults: ``interface``, ``interface_version`` (u32), ``[metadata]`` and ``language`` must
  be written, ``entry_module`` too for Python, and ``runtime_strict`` holds.

``[metadata]`` is closed (``CloacinaMetadata``, ``deny_unknown_fields``); unknown
``[package]`` keys and unknown top-level tables are ignored, except ``[python]`` and
``[wasm]``, which need the matching ``runtime``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from ...findings import Finding, error

U32 = (1 << 32) - 1
STRING_KEYS = ("language", "workflow_name", "graph_name", "entry_module", "requires_python",
               "description", "author", "reaction_mode", "input_strategy")
METADATA_KEYS = frozenset(STRING_KEYS + ("accumulators", "providers"))
RUNTIMES = ("rust", "python", "wasm")          # fidius PackageRuntime (runtime_strict)
_RESOLVER = "the engine's resolver (load_resolved_manifest, engine-format §2.2)"
_LOADER = "the engine's Python loader (fidius load_manifest, raw and strict, §2.2)"


@dataclass(frozen=True)
class EngineManifest:
    """Both views of one ``package.toml``.  ``resolved`` is the resolver's document with
    its defaults applied (None when the resolver refuses it); ``loader_ok`` says whether
    the Python loader's strict, default-free reading accepts the raw document."""

    raw: dict[str, Any]
    resolved: dict[str, Any] | None
    loader_ok: bool

    def _get(self, table: str, key: str) -> Any:
        doc = self.resolved if self.resolved is not None else self.raw
        value = doc.get(table, {})
        return value.get(key) if isinstance(value, dict) else None

    @property
    def name(self) -> str | None:
        return _str(self._get("package", "name"))

    @property
    def version(self) -> str | None:
        return _str(self._get("package", "version"))

    @property
    def language(self) -> str | None:
        return _str(self._get("metadata", "language"))

    @property
    def workflow_name(self) -> str | None:
        return _str(self._get("metadata", "workflow_name"))

    @property
    def entry_module(self) -> str | None:
        return _str(self._get("metadata", "entry_module"))

    @property
    def metadata(self) -> dict[str, Any]:
        doc = self.resolved if self.resolved is not None else self.raw
        meta = doc.get("metadata")
        return meta if isinstance(meta, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_toml(data: bytes) -> tuple[dict[str, Any] | None, list[Finding]]:
    """``tomllib`` inside a total wrapper: a table, or the finding."""
    try:
        return tomllib.loads(data.decode("utf-8")), []
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        return None, [error("engine-toml-syntax", f"package.toml is not valid TOML: {exc}; "
                            f"{_RESOLVER} fails to parse it", "package.toml")]


def infer_language(files: set[str], dirs: Container[str]) -> str | None:
    """§2.2: Cargo.toml *and* src/lib.rs => rust; a workflow/ directory => python; both or
    neither => None (the resolver's 'cannot infer [metadata].language')."""
    rust = "Cargo.toml" in files and "src/lib.rs" in files
    python = "workflow" in dirs
    if rust == python:
        return None
    return "rust" if rust else "python"


def read_manifest(data: bytes, files: set[str], dirs: Container[str]
                  ) -> tuple[EngineManifest | None, list[Finding]]:
    """Both views of ``package.toml`` (``files``/``dirs``: the root's members, relative
    to the root, for the resolver's language inference)."""
    raw, findings = parse_toml(data)
    if raw is None:
        return None, findings
    resolved, problems = resolve(raw, files, dirs)
    findings += problems
    loader = loader_findings(raw) if _python(resolved, raw) else []
    if resolved is not None and loader:
        findings += [error("engine-loader", f"the upload would accept this package.toml but "
                           f"{_LOADER} would fail: {f.message}", "package.toml")
                     for f in loader]
    return EngineManifest(raw, resolved, not loader), findings


def _python(resolved: dict | None, raw: dict) -> bool:
    doc = resolved if resolved is not None else raw
    meta = doc.get("metadata")
    return isinstance(meta, dict) and meta.get("language") == "python"


def resolve(raw: dict[str, Any], files: set[str], dirs: Container[str]
            ) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The resolver's document, defaults applied, or None with why it refuses."""
    package, meta = raw.get("package"), raw.get("metadata", {})
    if not isinstance(package, dict) or not isinstance(meta, dict):
        return None, [_refused("[package] (required) and [metadata] must be tables")]
    doc = {**raw, "package": dict(package), "metadata": dict(meta)}
    pkg, meta = doc["package"], doc["metadata"]
    pkg.setdefault("interface", "cloacina-workflow-plugin")
    pkg.setdefault("interface_version", 1)
    pkg.setdefault("extension", "cloacina")
    if "language" not in meta:
        language = infer_language(files, dirs)
        if language is None:
            return None, [error("engine-language", "cannot infer [metadata].language: the "
                                "archive has both or neither of Cargo.toml + src/lib.rs and "
                                f"workflow/; {_RESOLVER} refuses it", "package.toml")]
        meta["language"] = language
    if meta["language"] == "python" and "entry_module" not in meta \
            and isinstance(pkg.get("name"), str):
        meta["entry_module"] = pkg["name"].replace("-", "_") + ".tasks"
    problems = package_problems(pkg) + metadata_problems(meta) + runtime_problems(doc)
    if problems:
        return None, [_refused(p) for p in problems]
    return doc, []


def _refused(problem: str) -> Finding:
    code = "engine-metadata-key" if problem.startswith("unknown [metadata]") else \
        "engine-runtime-table" if "runtime" in problem else "engine-manifest"
    return error(code, f"{problem}: {_RESOLVER} refuses it", "package.toml")


def package_problems(pkg: dict[str, Any]) -> list[str]:
    """``PackageHeader``: the typed fields (unknown keys are ignored)."""
    out = []
    for key in ("name", "version", "interface", "extension", "runtime"):
        required = key in ("name", "version", "interface")
        if key not in pkg:
            if required:
                out.append(f"missing field [package].{key}")
        elif not isinstance(pkg[key], str):
            out.append(f"[package].{key} must be a string")
    if "interface_version" not in pkg:
        out.append("missing field [package].interface_version")
    elif type(pkg["interface_version"]) is not int or not 0 <= pkg["interface_version"] <= U32:
        out.append("[package].interface_version must be an integer from 0 to 4294967295")
    return out


def metadata_problems(meta: dict[str, Any]) -> list[str]:
    """``CloacinaMetadata``: closed, typed."""
    out = [f"unknown [metadata] key '{k}' (the table is closed)"
           for k in sorted(set(meta) - METADATA_KEYS)]
    out += [f"[metadata].{k} must be a string" for k in STRING_KEYS
            if k in meta and not isinstance(meta[k], str)]
    accumulators = meta.get("accumulators", [])
    if not isinstance(accumulators, list) or not all(_accumulator(a) for a in accumulators):
        out.append("[[metadata.accumulators]] must be tables with a string 'name', a string "
                   "'accumulator_type' and a 'config' table of strings")
    providers = meta.get("providers", {})
    if not isinstance(providers, dict) or not all(isinstance(v, (str, dict))
                                                  for v in providers.values()):
        out.append("[metadata.providers] must map names to a version string or a table")
    return out


def _accumulator(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return False
    config = value.get("config", {})
    return isinstance(value.get("accumulator_type", ""), str) and isinstance(config, dict) \
        and all(isinstance(v, str) for v in config.values())


def runtime_problems(doc: dict[str, Any]) -> list[str]:
    """``validate_runtime``: a [python] or [wasm] table needs the matching runtime, and
    that runtime needs its table."""
    runtime = doc["package"].get("runtime")
    out = []
    for table in ("python", "wasm"):
        if table in doc and runtime != table:
            out.append(f"a top-level [{table}] table is only valid when [package].runtime = "
                       f"\"{table}\"")
        if runtime == table and not isinstance(doc.get(table), dict):
            out.append(f"[package].runtime = \"{table}\" needs a [{table}] table")
    return out


def loader_findings(raw: dict[str, Any]) -> list[Finding]:
    """What the raw, strict loader refuses that the resolver would have defaulted."""
    pkg, meta = raw.get("package"), raw.get("metadata")
    problems: list[str] = []
    if not isinstance(pkg, dict):
        return []
    problems += [p for p in package_problems(pkg) if p.startswith("missing")]
    if not isinstance(meta, dict):
        problems.append("missing [metadata] table")
    else:
        problems += [f"missing field [metadata].{k}" for k in ("language", "entry_module")
                     if k not in meta]
    runtime = pkg.get("runtime")
    if runtime is not None and runtime not in RUNTIMES:
        problems.append(f"[package].runtime = {str(runtime)[:40]!r} fails runtime_strict")
    return [error("engine-loader", p, "package.toml") for p in problems]
