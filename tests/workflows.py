"""Small workflow projects written by tests, in the engine's canonical layout."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cloacina_build.build.builder import build_package


def write_project(root: Path, tasks: str, *, name: str = "wf-test", version: str = "1.0.0",
                  module: str = "wf_test", extra: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "{version}"\n'
        f'[metadata]\nworkflow_name = "{module}"\nentry_module = "{module}.tasks"\n')
    pkg = root / "workflow" / module
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tasks.py").write_text(textwrap.dedent(tasks))
    for rel, text in (extra or {}).items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def build(root: Path, tasks: str, out_dir: Path, **kw) -> Path:
    project = write_project(root, tasks, **kw)
    return build_package(project, out_dir / f"{root.name}.cloacina").path
