"""cloacinactl new: every template gives a project whose tests pass and that packages and
validates, straight away; names are checked; nothing is half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.errors import ProjectError, UsageError
from cloacina_build.project.scaffold import create_project, derive, list_templates
from cloacina_build.ops.validate import validate_package

EXE = str(Path(sys.executable).with_name("cloacinactl"))
PYTHON_TEMPLATES = ["python", "pyproject"]


def ctl(*args, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_list_names_every_builtin_template():
    names = [t.name for t in list_templates()]
    assert set(names) >= {"python", "pyproject", "rust"}
    proc = ctl("new", "--list", "--json")
    listed = {t["name"]: t for t in json.loads(proc.stdout)}
    assert set(listed) == set(names)
    assert all(t["description"] and t["variables"] for t in listed.values())


@pytest.mark.parametrize("template", PYTHON_TEMPLATES)
def test_a_new_python_project_tests_packages_and_validates(tmp_path, template):
    proc = ctl("new", "nightly-etl", "--template", template, "--var", "author=Ada",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "nightly-etl"
    for required in ("README.md", ".gitignore", ".github/workflows/package.yml", "tests"):
        assert (project / required).exists(), required
    readme = (project / "README.md").read_text()
    for word in ("pytest", "cloacinactl package", "cloacinactl sign", "cloacinactl inspect"):
        assert word in readme
    workflow = (project / ".github/workflows/package.yml").read_text()
    assert "secrets.CLOACINA_SIGNING_KEY" in workflow and "{{" not in workflow.replace(
        "${{", "")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=project, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    proc = ctl("package", ".", cwd=project)
    assert proc.returncode == 0, proc.stderr
    pkg = project / "dist" / "nightly-etl-0.1.0.cloacina"
    report = validate_package(pkg)
    assert report.ok, [f.render() for f in report.findings]
    info = json.loads(ctl("inspect", pkg, "--json").stdout)
    assert info["package"]["author"] == "Ada"
    assert [t["id"] for t in info["tasks"]] == ["collect_data", "generate_report",
                                                "process_data"]


@pytest.mark.parametrize("name, message", [
    ("-bad", "not a valid package name"), ("bad name", "not a valid package name"),
    ("1abc", "not a Python identifier"), ("class", "not a Python identifier"),
])
def test_names_are_checked(name, message):
    with pytest.raises(UsageError, match=message):
        derive(name, "python")


def test_derived_names():
    assert derive("Data.Pipeline_v2", "rust") == {
        "name": "Data.Pipeline_v2", "module": "data_pipeline_v2", "crate": "data-pipeline-v2",
        "lib_name": "data_pipeline_v2", "workflow": "data_pipeline_v2",
        "cloacina_build_version": derive("x", "python")["cloacina_build_version"]}


def test_non_empty_target_is_refused_and_untouched(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty; nothing was written"):
        create_project("taken", path=target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert create_project("empty", path=empty) == empty
    assert (empty / "package.toml").is_file()


def test_a_failing_template_leaves_nothing_behind(tmp_path):
    tpl = tmp_path / "tpl"
    shutil.copytree(list_templates()[0].path, tpl)
    (tpl / "files" / "zz_broken.txt.j2").write_text("{{ no_such_variable }}")
    with pytest.raises(ProjectError, match="zz_broken.txt.j2 does not render"):
        create_project("half", template=str(tpl), path=tmp_path / "out" / "half")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_users_own_template_directory(tmp_path):
    tpl = tmp_path / "mine"
    (tpl / "files" / "workflow" / "{{module}}").mkdir(parents=True)
    (tpl / "template.toml").write_text(
        'description = "minimal"\n[variables.greeting]\ndescription = "what it says"\n')
    (tpl / "files" / "package.toml.j2").write_text(
        '[package]\nname = "{{ name }}"\nversion = "1.0"\n')
    (tpl / "files" / "workflow" / "{{module}}" / "__init__.py.j2").write_text(
        "import cloaca\n\n@cloaca.task(id='hello')\ndef hello(ctx):\n"
        "    ctx.set('said', '{{ greeting }}')\n    return ctx\n")
    with pytest.raises(UsageError, match="needs --var greeting"):
        create_project("own", template=str(tpl), path=tmp_path / "own")
    project = create_project("own", template=str(tpl), path=tmp_path / "own",
                             variables={"greeting": "hi"})
    from cloacina_build.testing import run_workflow

    assert run_workflow(project).context == {"said": "hi"}


def test_unknown_and_derived_variables_are_refused(tmp_path):
    with pytest.raises(UsageError, match="did you mean 'author'"):
        create_project("x", path=tmp_path / "x", variables={"autor": "a"})
    with pytest.raises(UsageError, match="derived from the project name"):
        create_project("x", path=tmp_path / "x", variables={"module": "y"})
    assert not (tmp_path / "x").exists()


def test_generated_files_respect_the_umask(tmp_path):
    project = create_project("perm", path=tmp_path / "perm")
    mode = project.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask


@pytest.mark.parametrize("template", ["python", "pyproject", "rust"])
def test_var_values_cannot_break_the_files_they_land_in(tmp_path, template):
    """Quotes, backslashes and control characters in --var values are written as TOML
    strings, so the project still reads (found by a new user: `description=has "quotes"`
    made package.toml invalid)."""
    import tomllib

    text = 'has "quotes", a \\ backslash and a\ttab'
    project = create_project("var-demo", template=template, path=tmp_path / template,
                             variables={"description": text, "author": 'O"Brien'})
    config = {"python": "package.toml", "pyproject": "pyproject.toml",
              "rust": "Cargo.toml"}[template]
    doc = tomllib.loads((project / config).read_text())
    table = {"python": "metadata", "pyproject": "project", "rust": "package"}[template]
    assert doc[table]["description"] == text
    from cloacina_build.ops.validate import validate_project

    report = validate_project(project)  # the sources too: a docstring, a Rust attribute
    assert report.ok, [f.render() for f in report.findings]


def test_a_version_var_must_be_a_version(tmp_path):
    with pytest.raises(UsageError) as err:
        create_project("v-demo", path=tmp_path / "v", variables={"version": "banana"})
    assert "banana" in err.value.message and not (tmp_path / "v").exists()
