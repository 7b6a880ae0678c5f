"""Where workflow source comes from: a directory on disk or the files inside a wheel.

Discovery starts at the entry module and follows its import-time imports inside the same
top-level package, so it sees exactly the modules the engine's import would run.
"""

from __future__ import annotations

import ast
import hashlib
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MAX_SOURCE_BYTES = 4 * 1024 * 1024
MAX_MODULES = 5000


class SourceTree(Protocol):
    def read(self, relpath: str) -> bytes | None: ...
    def is_file(self, relpath: str) -> bool: ...
    def is_dir(self, relpath: str) -> bool: ...
    def display(self, relpath: str) -> str: ...


class DiskTree:
    """Files below ``root``; ``display`` names them relative to ``shown_from``."""

    def __init__(self, root: Path, shown_from: Path | None = None) -> None:
        self.root = root
        self.shown_from = shown_from or root

    def _path(self, relpath: str) -> Path:
        return self.root.joinpath(*relpath.split("/"))

    def read(self, relpath: str) -> bytes | None:
        path = self._path(relpath)
        if not path.is_file() or path.is_symlink() and not path.resolve().is_relative_to(
                self.root.resolve()):
            return None
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise SourceTooLarge(self.display(relpath))
        return path.read_bytes()

    def is_file(self, relpath: str) -> bool:
        return self._path(relpath).is_file()

    def is_dir(self, relpath: str) -> bool:
        return self._path(relpath).is_dir()

    def display(self, relpath: str) -> str:
        try:
            return self._path(relpath).relative_to(self.shown_from).as_posix()
        except ValueError:
            return relpath


class ZipTree:
    """The members of a wheel, read with a size bound (sizes in the zip are not trusted)."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = {i.filename: i for i in zf.infolist() if not i.filename.endswith("/")}
        self.dirs = {n.rsplit("/", 1)[0] for n in self.names if "/" in n}
        for d in list(self.dirs):
            while "/" in d:
                d = d.rsplit("/", 1)[0]
                self.dirs.add(d)

    def read(self, relpath: str) -> bytes | None:
        info = self.names.get(relpath)
        if info is None:
            return None
        with self.zf.open(info) as fh:
            data = fh.read(MAX_SOURCE_BYTES + 1)
        if len(data) > MAX_SOURCE_BYTES:
            raise SourceTooLarge(relpath)
        return data

    def is_file(self, relpath: str) -> bool:
        return relpath in self.names

    def is_dir(self, relpath: str) -> bool:
        return relpath in self.dirs

    def display(self, relpath: str) -> str:
        return relpath


class SourceTooLarge(Exception):
    pass


TOO_LARGE = "too-large"


class RecordingTree:
    """A source tree that remembers everything discovery asked of it: which paths are
    files or directories, and the sha256 of every file it read.

    Discovery is a function of those answers alone, so another tree that gives the same
    answers (:meth:`same_in`) yields the same discovery: the builder uses this to skip
    rediscovering a wheel whose modules are the very bytes that were discovered.
    """

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self.answers: dict[tuple[str, str], object] = {}

    def read(self, relpath: str) -> bytes | None:
        try:
            data = self.tree.read(relpath)
        except SourceTooLarge:
            self.answers[("read", relpath)] = TOO_LARGE
            raise
        self.answers[("read", relpath)] = None if data is None else _sha256(data)
        return data

    def is_file(self, relpath: str) -> bool:
        answer = self.answers[("is_file", relpath)] = self.tree.is_file(relpath)
        return answer

    def is_dir(self, relpath: str) -> bool:
        answer = self.answers[("is_dir", relpath)] = self.tree.is_dir(relpath)
        return answer

    def display(self, relpath: str) -> str:
        return self.tree.display(relpath)

    def same_in(self, other: SourceTree) -> bool:
        """Whether ``other`` answers every question exactly as this tree did.  Reading
        ``other`` may raise what its ``read`` raises (a corrupt zip, say)."""
        for (question, relpath), answer in self.answers.items():
            if question == "read":
                try:
                    data = other.read(relpath)
                except SourceTooLarge:
                    if answer != TOO_LARGE:
                        return False
                    continue
                if answer != (None if data is None else _sha256(data)):
                    return False
            elif getattr(other, question)(relpath) != answer:
                return False
        return True


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Module:
    name: str
    relpath: str
    is_package: bool


def resolve(tree: SourceTree, dotted: str) -> Module | None:
    base = dotted.replace(".", "/")
    if tree.is_file(f"{base}/__init__.py"):
        return Module(dotted, f"{base}/__init__.py", True)
    if tree.is_file(f"{base}.py"):
        return Module(dotted, f"{base}.py", False)
    return None


def module_path(root: Path, dotted: str) -> str | None:
    found = resolve(DiskTree(root), dotted)
    return found.relpath if found else None


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_BLOCK_FIELDS: dict[type, tuple[str, ...]] = {}


def _statement_children(node: ast.AST) -> list[ast.AST]:
    """The statements (and except/case clauses) directly inside ``node``, in field order:
    imports are statements, and expressions hold none (a lambda's body is an expression),
    so walking statement blocks alone finds every import at a fraction of the cost of a
    full walk."""
    kind = type(node)
    fields = _BLOCK_FIELDS.get(kind)
    if fields is None:
        fields = _BLOCK_FIELDS[kind] = tuple(f for f in kind._fields if f in _BLOCKS)
    out: list[ast.AST] = []
    for name in fields:
        block = getattr(node, name, None)
        if type(block) is list:
            out += block
    return out


def statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement of a module, breadth first (the order of ``ast.walk``)."""
    queue = deque([tree])
    while queue:
        node = queue.popleft()
        yield node
        queue.extend(_statement_children(node))


def _import_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Statements that run at import: everything outside function bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in _statement_children(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            stack.append(child)


def imported_names(module: Module, parsed: ast.AST) -> list[str]:
    """Dotted names a module imports at import time (absolute, relative resolved)."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    out: list[str] = []
    for node in _import_time_nodes(parsed):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                out.append(base)
            out.extend(f"{base}.{a.name}" if base else a.name for a in node.names
                       if a.name != "*")
    return out


def walk_modules(tree: SourceTree, entry: str, parse: Callable[[Module], ast.AST | None],
                 visit: Callable[[Module, ast.AST], Any] | None = None
                 ) -> list[tuple[Module, Any]]:
    """The entry module, its parent packages, and what they import inside the package.

    ``parse(module) -> parsed or None`` parses one module (and reports its problems);
    ``visit(module, parsed)``, when given, reads what it needs from the tree as soon as it
    is parsed (so only one syntax tree is alive at a time) and its result is returned in
    place of the tree.  Returns ``(module, parsed or visit's result or None)`` pairs sorted
    by module name.
    """
    top = entry.split(".")[0]
    seen: dict[str, tuple[Module, Any]] = {}
    queue: deque[str] = deque([entry])
    while queue and len(seen) < MAX_MODULES:
        dotted = queue.popleft()
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in seen:
                continue
            module = resolve(tree, name)
            if module is None:
                continue
            parsed = parse(module)
            if parsed is None:
                seen[name] = (module, None)
                continue
            for imported in imported_names(module, parsed):
                if imported.split(".")[0] == top and imported not in seen:
                    queue.append(imported)
            seen[name] = (module, parsed if visit is None else visit(module, parsed))
            del parsed
    return [seen[k] for k in sorted(seen)]
