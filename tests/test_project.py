"""Reading projects: the canonical layout and PEP 621, inference and closed metadata."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cloacina_build.errors import ProjectError, UsageError
from cloacina_build.project.config import CANONICAL, PEP621, load_project

TASKS = "import cloaca\n\n@cloaca.task(id='a')\ndef a(context):\n    return context\n"


def canonical(tmp_path: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "package.toml").write_text(textwrap.dedent(toml))
    for rel, text in (files if files is not None else
                      {"workflow/data_pipeline/__init__.py": "",
                       "workflow/data_pipeline/tasks.py": TASKS}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def pep621(tmp_path: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(toml))
    for rel, text in (files if files is not None else
                      {"src/etl_flow/__init__.py": TASKS}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def messages(exc: ProjectError) -> list[str]:
    return [f.message for f in exc.findings]


def test_canonical_inference(tmp_path):
    p = load_project(canonical(tmp_path, '[package]\nname = "data-pipeline"\nversion = "1.0.0"\n'))
    assert p.layout == CANONICAL
    assert p.metadata == {"language": "python", "workflow_name": "data_pipeline",
                          "entry_module": "data_pipeline.tasks"}


def test_canonical_entry_is_the_package_when_there_is_no_tasks_module(tmp_path):
    root = canonical(tmp_path, '[package]\nname = "data.Pipeline"\nversion = "1"\n',
                     {"workflow/data_pipeline/__init__.py": TASKS})
    assert load_project(root).entry_module == "data_pipeline"


def test_unknown_metadata_key_with_hint(tmp_path):
    root = canonical(tmp_path, '''
        [package]
        name = "data-pipeline"
        version = "1.0.0"
        [metadata]
        workflow_nmae = "x"
        descripton = "y"
    ''')
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert messages(info.value) == [
        "unknown key 'descripton' in [metadata] (did you mean 'description'?)",
        "unknown key 'workflow_nmae' in [metadata] (did you mean 'workflow_name'?)",
    ]
    assert all(f.location == "package.toml" for f in info.value.findings)


@pytest.mark.parametrize("extra, code, text", [
    ('package_type = "python"', "config-package-type", "package_type is not accepted"),
    ('[[metadata.triggers]]\nname = "t"', "config-triggers", "@cloaca.trigger"),
])
def test_engine_rejections(tmp_path, extra, code, text):
    root = canonical(tmp_path, f'[package]\nname = "p"\nversion = "1.0"\n[metadata]\n{extra}\n',
                     {"workflow/p/__init__.py": TASKS})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert [f.code for f in info.value.findings] == [code]
    assert text in info.value.findings[0].message


@pytest.mark.parametrize("package, code", [
    ('name = "-bad-"\nversion = "1.0"', "config-schema"),
    ('name = "ok"\nversion = "one point oh"', "config-version"),
    ('name = "ok"', "config-schema"),
    ('name = "ok"\nversion = "1.0"\ninterface_version = 2', "config-schema"),
])
def test_identity_errors(tmp_path, package, code):
    root = canonical(tmp_path, f"[package]\n{package}\n", {"workflow/ok/__init__.py": TASKS})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert code in [f.code for f in info.value.findings]


def test_bad_requires_python(tmp_path):
    root = canonical(tmp_path, '[package]\nname="p"\nversion="1"\n[metadata]\n'
                     'requires_python = "three"\n', {"workflow/p/__init__.py": TASKS})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert [f.code for f in info.value.findings] == ["config-requires-python"]


def test_missing_entry_module(tmp_path):
    root = canonical(tmp_path, '[package]\nname="p"\nversion="1"\n', {"workflow/q/__init__.py": ""})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert "entry module 'p' not found under workflow/" in messages(info.value)[0]


def test_invalid_toml_names_the_problem(tmp_path):
    (tmp_path / "package.toml").write_text("[package\nname = 1\n")
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path)
    assert info.value.code == "config-syntax" and "line 1" in info.value.message


def test_not_a_project(tmp_path):
    with pytest.raises(UsageError, match="no package.toml, pyproject.toml or Cargo.toml"):
        load_project(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        load_project(tmp_path / "missing")


def test_pep621_reads_tool_table_and_project_fields(tmp_path):
    root = pep621(tmp_path, '''
        [project]
        name = "etl-flow"
        version = "2.1"
        description = "d"
        requires-python = ">=3.11"
        authors = [{name = "Ada"}]
        [tool.cloacina]
        workflow_name = "nightly"
    ''')
    p = load_project(root)
    assert p.layout == PEP621 and p.version == "2.1"
    assert p.source_root == root.resolve() / "src"
    assert p.metadata == {"language": "python", "workflow_name": "nightly",
                          "entry_module": "etl_flow", "description": "d",
                          "requires_python": ">=3.11", "author": "Ada"}


def test_pep621_dynamic_version_is_left_for_the_build(tmp_path):
    root = pep621(tmp_path, '[project]\nname = "etl-flow"\ndynamic = ["version"]\n'
                  '[tool.cloacina]\n', {"etl_flow.py": TASKS})
    p = load_project(root)
    assert p.version is None and p.entry_module == "etl_flow"


def test_pep621_needs_the_tool_table(tmp_path):
    root = pep621(tmp_path, '[project]\nname = "etl-flow"\nversion = "1"\n')
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert "[tool.cloacina]" in messages(info.value)[0]


def test_pep621_unknown_tool_key(tmp_path):
    root = pep621(tmp_path, '[project]\nname = "etl-flow"\nversion = "1"\n'
                  '[tool.cloacina]\nentry_modul = "etl_flow"\n')
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert messages(info.value) == [
        "unknown key 'entry_modul' in [tool.cloacina] (did you mean 'entry_module'?)"]
