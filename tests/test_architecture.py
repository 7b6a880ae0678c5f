"""The layout is the architecture: layers import downwards only, no module imports itself
back through another, and modules and functions stay small enough to change safely."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cloacina_build"

# What each layer may import (besides itself). docs/architecture.md explains the layers.
BASE = {"__about__", "errors", "findings", "fsutil", "model", "rulebook", "manifest_parser",
        "strict_json",
        "fast_tasks", "json_reader", "canonical", "gcpause", "schema_subset", "progress",
        "codes", "codes_engine", "safe_text", "lazy"}
ALLOWED = {
    "base": {"base"},
    "project": {"base"},
    "trust": {"base"},
    "format": {"base", "project", "trust"},
    "ops": {"base", "project", "format", "trust"},
    "build": {"base", "project", "format", "trust", "ops"},
    "oci": {"base", "project", "format", "trust", "ops"},
    "runtime": {"base", "project", "format", "trust", "ops", "build", "oci"},
    "testing": {"base", "project", "format", "trust", "ops", "build", "runtime", "oci"},
    "cli": {"base", "project", "format", "trust", "ops", "build", "runtime", "testing", "oci"},
    "api": {"base", "project", "format", "trust", "ops", "build", "runtime", "testing", "cli",
            "oci"},
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for py in PACKAGE.rglob("*.py"):
        parts = py.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts)] = py
    return out


def _layer(module: str) -> str:
    top = module.split(".")[0]
    if top in BASE:
        return "base"
    if top in ("__init__", "__main__"):
        return "api"
    return top


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        if not (node.module or "").startswith("cloacina_build"):
            return []
        base = node.module.split(".")[1:]  # type: ignore[union-attr]
    else:
        here = module.split(".")
        here = here if is_package else here[:-1]
        base = here[:len(here) - (node.level - 1)] + (node.module.split(".")
                                                      if node.module else [])
    targets = []
    for alias in node.names:
        targets.append(".".join(base + [alias.name]))
        targets.append(".".join(base))
    return targets


def _targets(name: str, node: ast.AST, is_package: bool) -> list[str]:
    """The modules of this package an import statement names (as written)."""
    if isinstance(node, ast.ImportFrom):
        return [c for t in _resolve(name, node, is_package) for c in (t, t + ".__init__")]
    if isinstance(node, ast.Import):
        return [a.name.split(".", 1)[1] for a in node.names
                if a.name.startswith("cloacina_build.")]
    return []


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        name = module.removesuffix(".__init__") if is_package else module
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            graph[module] |= {t for t in _targets(name, node, is_package)
                              if t in modules and t != module}
    return graph


def test_layers_import_downwards_only():
    graph = _imports()
    assert sum(len(v) for v in graph.values()) > 50, "the import scan found too little"
    wrong = []
    for module, targets in graph.items():
        layer = _layer(module)
        for target in targets:
            other = _layer(target)
            if other != layer and other not in ALLOWED[layer] and not \
                    target.endswith("__init__"):
                wrong.append(f"{module} ({layer}) imports {target} ({other})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules():
    """Counting every import, even those only for annotations (``TYPE_CHECKING``)."""
    graph = {m: {t for t in ts if not t.endswith("__init__")} for m, ts in _imports().items()
             if not m.endswith("__init__")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in _modules().items():
        text = path.read_text("utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"module {module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"function {module}.{node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


def _loaded_after(code: str) -> set[str]:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_lazy_packages_import_only_the_module_of_the_name_asked_for():
    """Telling the formats apart costs no engine tar reader; asking whether an argument is
    an oci:// reference costs no HTTP client."""
    engine = _loaded_after("from cloacina_build.format.engine import detect_format")
    assert "cloacina_build.format.engine.bzip" in engine
    assert "cloacina_build.format.engine.archive" not in engine
    oci = _loaded_after("from cloacina_build.oci import is_reference")
    assert "cloacina_build.oci.reference" in oci and "urllib3" not in oci
    both = _loaded_after("import cloacina_build.format.engine as e, cloacina_build.oci as o\n"
                         "e.open_engine, o.push_package")
    assert {"cloacina_build.format.engine.archive", "cloacina_build.oci.push"} <= both


def test_a_lazy_package_refuses_a_name_it_does_not_have():
    import pytest

    import cloacina_build.format.engine as engine
    import cloacina_build.oci as oci

    for package in (engine, oci):
        with pytest.raises(AttributeError, match="has no attribute 'nope'"):
            package.nope  # noqa: B018
