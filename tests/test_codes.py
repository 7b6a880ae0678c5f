"""The finding-code registry: complete, documented, and the only source of codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cloacina_build import codes

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cloacina_build"
CODE_FUNCS = {"error", "warning", "Finding", "RuleViolation", "tar_error"}
CODE_SHAPE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _literal_codes() -> dict[str, list[str]]:
    """Every string literal in the package written where a code goes."""
    found: dict[str, list[str]] = {}
    for py in PACKAGE.rglob("*.py"):
        tree = ast.parse(py.read_text("utf-8"))
        for node in ast.walk(tree):
            for value in _code_positions(node):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.setdefault(value.value, []).append(f"{py.name}:{value.lineno}")
    return found


def _code_positions(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else \
            getattr(node.func, "attr", "")
        out = [k.value for k in node.keywords if k.arg == "code"]
        if name in CODE_FUNCS and node.args:
            out.append(node.args[0])
        return out
    if isinstance(node, ast.ClassDef):  # ``code = "usage"`` on error classes
        return [s.value for s in node.body if isinstance(s, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "code" for t in s.targets)]
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) \
            and len(node.value.elts) == 2 and isinstance(node.value.elts[0], ast.Constant) \
            and isinstance(node.value.elts[0].value, str) \
            and node.value.elts[0].value.startswith("member-name-"):
        return [node.value.elts[0]]  # names.name_problem's (code, message) pairs
    return []


def test_every_literal_code_in_the_source_is_registered():
    found = _literal_codes()
    assert found, "the scan found no codes at all: it is broken"
    missing = {code: where for code, where in found.items() if code not in codes.REGISTRY}
    assert not missing, f"unregistered codes: {missing}"


def test_registered_codes_are_well_formed_and_documented_pages_exist():
    for info in codes.REGISTRY.values():
        assert CODE_SHAPE.match(info.code), info.code
        assert info.summary and "\n" not in info.summary
        page, _, anchor = info.doc.partition("#")
        text = (ROOT / "docs" / page).read_text("utf-8")
        if anchor:
            headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", text, re.M)}
            assert anchor in headings, f"{info.doc}: no such heading"


def test_the_docs_table_is_the_registry():
    text = (ROOT / "docs" / "format.md").read_text("utf-8")
    begin, end = "<!-- codes:begin -->\n", "<!-- codes:end -->"
    table = text[text.index(begin) + len(begin):text.index(end)]
    assert table == codes.markdown_table(), \
        "docs/format.md is stale: regenerate it with python -m cloacina_build.codes"


def test_wheel_name_codes_mirror_member_name_codes():
    member = {c for c in codes.REGISTRY if c.startswith("member-name-")}
    wheel = {c.removeprefix("wheel-") for c in codes.REGISTRY
             if c.startswith("wheel-member-name-")}
    assert member == wheel
