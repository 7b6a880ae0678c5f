"""Which files of a project go into a package: one walk for every payload builder.

Caches, version-control and tool directories are left out, and so are compiled
bytecode files; a link is followed only when it stays inside the project (a link to a
file elsewhere would leak that file into the package).  The order is the byte order of
the relative paths, so two walks of the same tree give the same list.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ProjectError

IGNORED = frozenset({"__pycache__", ".git", ".hg", ".svn", ".DS_Store", ".mypy_cache",
                     ".pytest_cache", ".ruff_cache", "target", "node_modules", ".venv"})
BYTECODE = (".pyc", ".pyo")


def project_files(top: Path, root: Path) -> list[tuple[str, Path]]:
    """``(path relative to top, file)`` for every file under ``top`` (a file or a
    directory), checked against ``root`` (the project); dotfiles are left out."""
    out: list[tuple[str, Path]] = []
    _walk(top, top.name if top.is_file() else "", root.resolve(), out)
    return sorted(out, key=lambda item: item[0].encode("utf-8", "surrogateescape"))


def _walk(path: Path, rel: str, real_root: Path, out: list[tuple[str, Path]]) -> None:
    if path.is_symlink() and not path.resolve().is_relative_to(real_root):
        raise ProjectError(f"{path} is a link to a place outside the project; it would "
                           "leak that file into the package",
                           hint="copy the file into the project instead")
    if path.is_dir():
        for child in path.iterdir():
            if child.name in IGNORED or child.suffix in BYTECODE or \
                    child.name.startswith("."):
                continue
            _walk(child, f"{rel}/{child.name}" if rel else child.name, real_root, out)
    elif path.is_file():
        out.append((rel, path))
