"""Generate a workflow project of any size: a chain of hubs with fan-out and fan-in.

``write_project(root, n_tasks, language="python")`` writes a buildable project under
``root`` (which must not exist or be empty): for Python a PEP 621 project (``pyproject.toml``
with ``[tool.cloacina]``, hatchling, ``src/`` layout), so ``python -m build --wheel`` runs on
the very directory ``cloacinactl package`` reads; for Rust a cdylib crate built against the local
stand-ins of the engine's crates that ``cloacinactl new --template rust`` ships.

The graph: tasks are grouped by ``FAN``; the first task of a group (its hub) depends on
every other task of the previous group, and the rest of the group depends on its hub.
Every task body is trivial, so what is measured is the toolchain, not the tasks.  Python
tasks are spread over modules of at most ``PER_MODULE`` tasks (one source file stays far
below the 4 MiB source limit at any size), imported by the entry module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FAN = 10
PER_MODULE = 1000
WORKFLOW = "scale_wf"


def task_id(i: int) -> str:
    return f"t{i:06d}"


def dependencies(i: int) -> list[int]:
    """Indices task ``i`` depends on."""
    group, pos = divmod(i, FAN)
    if pos:
        return [group * FAN]                                   # a leaf: its hub
    if group == 0:
        return []                                              # the root
    return list(range((group - 1) * FAN + 1, group * FAN))     # a hub: the previous leaves


def write_project(root: Path, n_tasks: int, language: str = "python") -> Path:
    if n_tasks < 1:
        raise ValueError("a workflow needs at least one task")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if language == "python":
        _python(root, n_tasks)
    elif language == "rust":
        _rust(root, n_tasks)
    else:
        raise ValueError(f"unknown language {language!r}")
    return root


def _deps_literal(i: int) -> str:
    return "[" + ", ".join(f'"{task_id(d)}"' for d in dependencies(i)) + "]"


def _python(root: Path, n: int) -> None:
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "scale-{n}"\nversion = "1.0.0"\n'
        f'description = "A generated workflow of {n} tasks"\ndependencies = []\n\n'
        f'[tool.cloacina]\nworkflow_name = "{WORKFLOW}"\nentry_module = "{WORKFLOW}.tasks"\n\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["src/{WORKFLOW}"]\n', "utf-8")
    pkg = root / "src" / WORKFLOW
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("", "utf-8")
    parts = []
    for start in range(0, n, PER_MODULE):
        name = f"part_{start // PER_MODULE:04d}"
        parts.append(name)
        lines = ["import cloaca", ""]
        for i in range(start, min(n, start + PER_MODULE)):
            lines += ["", f'@cloaca.task(id="{task_id(i)}", dependencies={_deps_literal(i)})',
                      f"def {task_id(i)}(context):", "    return context", ""]
        (pkg / f"{name}.py").write_text("\n".join(lines), "utf-8")
    entry = ['"""A generated workflow: the tasks live in the part modules."""', "",
             "import cloaca  # noqa: F401", ""]
    entry += [f"from . import {p}  # noqa: F401" for p in parts]
    (pkg / "tasks.py").write_text("\n".join(entry) + "\n", "utf-8")


def _rust(root: Path, n: int) -> None:
    from cloacina_build.schema_subset import data_dir

    local = data_dir("templates") / "rust" / "files" / "cloacina-local"
    shutil.copytree(local, root / "cloacina-local", dirs_exist_ok=True)
    (root / "Cargo.toml").write_text(
        'patch.crates-io = { cloacina-workflow = { path = "cloacina-local/cloacina-workflow" },'
        ' cloacina-macros = { path = "cloacina-local/cloacina-macros" }, serde_json = { path ='
        ' "cloacina-local/serde_json" } }\n\n'
        f'[package]\nname = "scale-{n}"\nversion = "1.0.0"\nedition = "2021"\n'
        f'description = "A generated workflow of {n} tasks"\n\n'
        '[lib]\nname = "scale_wf"\ncrate-type = ["cdylib", "rlib"]\n\n'
        '[dependencies]\ncloacina-workflow = "0.3"\nserde_json = "1"\n\n'
        f'[package.metadata.cloacina]\nworkflow_name = "{WORKFLOW}"\n\n[workspace]\n',
        "utf-8")
    lines = ["use cloacina_workflow::{task, workflow, Context, TaskError};", "",
             f'#[workflow(name = "{WORKFLOW}", package = "scale-{n}")]',
             f"pub mod {WORKFLOW} {{", "    use super::*;"]
    for i in range(n):
        lines += ["", f'    #[task(id = "{task_id(i)}", dependencies = {_deps_literal(i)})]',
                  f"    pub async fn {task_id(i)}(_context: &mut Context<serde_json::Value>)"
                  " -> Result<(), TaskError> {", "        Ok(())", "    }"]
    lines.append("}")
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "lib.rs").write_text("\n".join(lines) + "\n", "utf-8")
