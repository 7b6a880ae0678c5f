"""cloacinactl new: every template gives a project whose tests pass and that packages and
validates, straight away; names are checked; nothing is half-written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.__about__ import __version__
from cloacina_build.errors import ProjectError, UsageError
from cloacina_build.ops.validate import validate_package
from cloacina_build.project.requirement import (
    check_requirement,
    from_direct_url,
    installed_requirement,
)
from cloacina_build.project.scaffold import create_project, derive, list_templates

EXE = str(Path(sys.executable).with_name("cloacinactl"))
PYTHON_TEMPLATES = ["python", "pyproject"]


def ctl(*args, cwd=None):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_list_names_every_builtin_template():
    names = [t.name for t in list_templates()]
    assert set(names) >= {"python", "pyproject", "rust"}
    proc = ctl("new", "--list", "--json")
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    listed = {t["name"]: t for t in data["templates"]}
    assert set(listed) == set(names)
    assert all(t["description"] and t["variables"] for t in listed.values())


@pytest.mark.parametrize("template", PYTHON_TEMPLATES)
def test_a_new_python_project_tests_packages_and_validates(tmp_path, template):
    proc = ctl("new", "nightly-etl", "--template", template, "--var", "author=Ada",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "nightly-etl"
    for required in ("README.md", ".gitignore", ".github/workflows/package.yml", "tests",
                     "trust/README.md"):
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
        "cloacina_build_version": derive("x", "python")["cloacina_build_version"],
        "cloacina_build_pin": installed_requirement()}


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
def test_the_readme_opens_with_the_description_as_given(tmp_path, template):
    """The description is the README's first line as given: the default ('A Cloacina
    workflow') was followed by 'A Cloacina workflow in the ...', and one ending in '.'
    got a second '.'."""
    readme = (create_project("d1", template=template, path=tmp_path / "d1") /
              "README.md").read_text()
    assert "A Cloacina workflow. A " not in readme
    assert readme.split("\n")[2] == "A Cloacina workflow"
    readme = (create_project("d2", template=template, path=tmp_path / "d2",
                             variables={"description": "Nightly order ETL."}) /
              "README.md").read_text()
    assert readme.split("\n")[2] == "Nightly order ETL." and "ETL.." not in readme
    if template == "rust":
        lib = (tmp_path / "d2" / "src" / "lib.rs").read_text()
        assert lib.startswith("//! Nightly order ETL.\n"), lib[:40]


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


# The tool requirement: what a generated project's README and CI install cloacinactl with.

PIN = f"cloacina-build=={__version__}"


@pytest.mark.parametrize("template", ["python", "pyproject", "rust"])
def test_every_template_takes_the_requirement_defaulting_to_this_tool(template):
    tpl = next(t for t in list_templates() if t.name == template)
    assert tpl.default_of("cloacina_build_requirement") == installed_requirement()
    listed = json.loads(ctl("new", "--list", "--json").stdout)["templates"]
    variables = {v["name"]: v for t in listed if t["name"] == template for v in t["variables"]}
    assert variables["cloacina_build_requirement"]["default"] == installed_requirement()


@pytest.mark.parametrize("requirement", [
    PIN,
    'cloacina-build[extra]>=0.1,<2; python_version >= "3.10"',
    "cloacina-build @ git+https://github.com/acme/cloacina-build.git@v0.1.0#subdirectory=py",
    "wheels/cloacina_build-0.1.0-py3-none-any.whl",
    "https://example.com/dl/cloacina_build-0.1.0-py3-none-any.whl",
])
@pytest.mark.parametrize("template", ["python", "rust"])
def test_the_requirement_lands_exactly_in_the_readme_and_ci(tmp_path, template, requirement):
    import yaml

    project = create_project("req-demo", template=template, path=tmp_path / "p",
                             variables={"cloacina_build_requirement": requirement})
    doc = yaml.safe_load((project / ".github/workflows/package.yml").read_text())
    assert doc["env"]["CLOACINA_BUILD_REQUIREMENT"] == requirement
    install = next(s for s in doc["jobs"]["package"]["steps"] if s.get("id") == "install")
    assert '"$CLOACINA_BUILD_REQUIREMENT"' in install["run"]
    readme = (project / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("pip install "))
    assert shlex.split(line)[2] == requirement
    # Only an index requirement gets the warning that the index may not have it.
    assert ("may not be on yours" in readme) == ("@" not in requirement
                                                 and not requirement.endswith(".whl"))


@pytest.mark.parametrize("template", ["python", "pyproject", "rust"])
def test_no_generated_file_installs_cloacina_build_from_an_index_unqualified(tmp_path,
                                                                             template):
    project = create_project("req-demo", template=template, path=tmp_path / template)
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".yml", ".toml", ".py", ".rs"):
            assert not re.search(r"pip install\s+cloacina-build(\s|$)", path.read_text()), \
                path


@pytest.mark.parametrize("value, message", [
    ("0.1.0", "installs '0.1.0', not cloacina-build"),
    ("cloacina-buil==1", "not cloacina-build"),
    ("cloacina-build @ ", "spaces at an end"),
    ("cloacina-build==1\n- run: evil", "control characters"),
    ("cloacina-build ==> 1", "not a pip requirement"),
    ("foo.whl", "not a wheel's file name"),
    ("wheels/other-1.0-py3-none-any.whl", "installs 'other'"),
])
def test_a_requirement_that_would_not_install_this_tool_is_refused(tmp_path, value, message):
    with pytest.raises(UsageError, match="cloacina_build_requirement") as err:
        create_project("r", path=tmp_path / "r", variables={"cloacina_build_requirement": value})
    assert message in err.value.message and not (tmp_path / "r").exists()


def test_new_says_what_ci_installs(tmp_path):
    proc = ctl("new", "said", cwd=tmp_path)
    assert f"CI installs cloacinactl with: {installed_requirement()}" in proc.stdout
    proc = ctl("new", "said2", "--var", "cloacina_build_requirement=cloacina-build>=0.1",
               cwd=tmp_path)
    assert "CI installs cloacinactl with: cloacina-build>=0.1 " in proc.stdout
    quiet = ctl("new", "said3", "-q", cwd=tmp_path)  # -q: the result, not the advice
    assert (quiet.returncode, quiet.stdout) == (0, "created said3 from template 'python'\n")


def test_new_says_how_to_run_the_tests_with_this_python(tmp_path, monkeypatch):
    """Found by a new user: 'next: … && pytest' ran a pytest from elsewhere on PATH, which
    could not import this tool."""
    import importlib.util

    from click.testing import CliRunner

    from cloacina_build.cli.main import cli

    assert "next: cd said && python -m pytest && cloacinactl package ." in \
        ctl("new", "said", cwd=tmp_path).stdout
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pytest" else found(name, *a))
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(cli, ["new", "bare"]).output
    assert "next: cd bare && pip install pytest && python -m pytest && cloacinactl package" in out


@pytest.mark.parametrize("info, expected", [
    ({"url": "https://github.com/acme/cloacina-build.git",
      "vcs_info": {"vcs": "git", "commit_id": "ab12" * 10, "requested_revision": "v1"}},
     "cloacina-build @ git+https://github.com/acme/cloacina-build.git@" + "ab12" * 10),
    ({"url": "https://user:tok3n@git.example.com:8443/cb.git", "subdirectory": "py",
      "vcs_info": {"vcs": "git", "commit_id": "c0ffee"}},
     "cloacina-build @ git+https://git.example.com:8443/cb.git@c0ffee#subdirectory=py"),
    ({"url": "ssh://git@github.com/acme/cb.git", "vcs_info": {"vcs": "git",
                                                              "commit_id": "c0ffee"}},
     "cloacina-build @ git+ssh://git@github.com/acme/cb.git@c0ffee"),
    ({"url": "https://example.com/cloacina_build-0.1.0-py3-none-any.whl",
      "archive_info": {"hashes": {}}},
     "cloacina-build @ https://example.com/cloacina_build-0.1.0-py3-none-any.whl"),
    ({"url": "file:///work/cloacina-build", "dir_info": {"editable": True}}, PIN),
    ({"url": "file:///tmp/cloacina_build-0.1.0-py3-none-any.whl", "archive_info": {}}, PIN),
    ({"url": "https://example.com/x.git", "vcs_info": {"vcs": "git"}}, PIN),
    ({"url": 7}, PIN),
    ({}, PIN),
])
def test_the_default_follows_how_this_tool_was_installed(info, expected):
    assert from_direct_url(info) == expected


_NOISE = st.text(max_size=12) | st.integers() | st.none()
_REMOTE = st.builds("{}://{}{}{}".format, st.sampled_from(["https", "HTTP", "ssh", "file", "git"]),
                    st.sampled_from(["", "user:tok3n@", "git@", ":tok3n@", "${T}@"]),
                    st.from_regex(r"[a-z0-9]{1,8}(\.[a-z]{2,3})?(:[0-9]{0,5})?", fullmatch=True),
                    st.text("ab1/.-_:@%~[]#?", max_size=20))
_DIRECT_URLS = st.one_of(
    st.fixed_dictionaries({"url": _REMOTE}, optional={
        "vcs_info": st.fixed_dictionaries({"vcs": st.sampled_from(["git", "hg", ""]),
                                           "commit_id": st.text("0123abcdef", max_size=12)}),
        "archive_info": st.just({}), "subdirectory": st.text("ab/._-", max_size=8)}),
    st.fixed_dictionaries({"url": _REMOTE | _NOISE}, optional={
        "vcs_info": st.dictionaries(st.sampled_from(["vcs", "commit_id"]), _NOISE) | _NOISE,
        "archive_info": _NOISE, "dir_info": st.just({"editable": True}),
        "subdirectory": _NOISE}))


@given(_DIRECT_URLS)
@settings(max_examples=500, deadline=None)
def test_any_direct_url_gives_a_requirement_pip_takes(info):
    requirement = from_direct_url(info)
    check_requirement(requirement)  # never a value `new` would then refuse
    assert "tok3n" not in requirement and "${T}" not in requirement  # no credentials


def test_installed_requirement_reads_the_running_tools_direct_url(monkeypatch):
    import importlib.metadata as md

    class Dist:
        version = __version__
        text: str | None = None

        def read_text(self, name):
            assert name == "direct_url.json"
            return self.text

    dist = Dist()
    monkeypatch.setattr(md, "distribution", lambda name: dist)
    assert installed_requirement() == PIN  # installed from an index: no direct_url.json
    dist.text = json.dumps({"url": "https://example.com/cb.git",
                            "vcs_info": {"vcs": "git", "commit_id": "c0ffee"}})
    assert installed_requirement() == "cloacina-build @ git+https://example.com/cb.git@c0ffee"
    dist.version = "0.0.1"  # metadata of another version than the code running: not it
    assert installed_requirement() == PIN
    dist.version, dist.text = __version__, "{not json"
    assert installed_requirement() == PIN


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
@pytest.mark.parametrize("template", ["python", "pyproject", "rust"])
def test_trust_holds_public_keys_and_git_keeps_private_keys_out(tmp_path, template):
    project = create_project("trust-demo", template=template, path=tmp_path / template)
    readme = (project / "trust" / "README.md").read_text()
    for needed in (".pub", "Never a `.key` file", "cloacinactl key generate trust_demo-ci",
                   "CLOACINA_SIGNING_KEY", "--trust trust/", ".gitignore"):
        assert needed in readme, needed
    (project / "trust" / "ci.key").write_text("private")
    (project / "trust" / "ci.pub").write_text("public")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    ignored = subprocess.run(["git", "check-ignore", "trust/ci.key", "trust/ci.pub",
                              "trust/README.md"], cwd=project, capture_output=True, text=True)
    assert ignored.stdout.split() == ["trust/ci.key"]


@given(st.text())
@settings(max_examples=500, deadline=None)
def test_the_yaml_filter_holds_any_text_exactly(text):
    import yaml

    from cloacina_build.project.scaffold import yaml_string

    assert yaml.safe_load(f"key: {yaml_string(text)}\n") == {"key": text}
