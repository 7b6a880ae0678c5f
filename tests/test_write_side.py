"""The write side: one rule book for both languages, and a builder that only writes
packages the reader accepts (property tests over generated workflows)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from cloacina_build.build.assemble import assemble, checked_manifest
from cloacina_build.build.builder import build_package
from cloacina_build.errors import BuildError, ProjectError
from cloacina_build.findings import has_errors
from cloacina_build.format.limits import Limits
from cloacina_build.model import Manifest
from cloacina_build.ops.validate import validate_package, validate_project
from cloacina_build.project.discovery import Discovery, discover
from cloacina_build.project.graph import graph_findings
from cloacina_build.project.rust import scan_sources
from cloacina_build.project.scaffold import create_project

from .workflows import write_project
from .write_side import (
    ARGUMENTS,
    DictTree,
    python_task_source,
    python_workflow,
    rust_task_source,
    rust_workflow,
    stub_payload,
    stub_project,
)

EXE = str(Path(sys.executable).with_name("cloacinactl"))


def _python(args) -> Discovery:
    return discover(DictTree({"wf/__init__.py": b"", "wf/tasks.py": python_task_source(args)}),
                    "wf.tasks", "wf")


def _rust(args):
    return scan_sources([("src/lib.rs", rust_task_source(args))])


def _judged(found):
    """What a rule-book judgement leaves: the errors' codes, and the task's values."""
    codes = [f.code for f in found.findings if f.severity == "error"]
    tasks = [(t.id, t.dependencies, t.retry) for t in found.tasks]
    return codes, tasks


# ------------------------------------------------------------------ one rule book

@settings(max_examples=400, deadline=None)
@given(ARGUMENTS)
def test_python_and_rust_accept_and_refuse_the_same_task_arguments(args):
    """Whatever values a task declares, both languages decide alike: the same task, or a
    refusal with the same finding code."""
    assert _judged(_python(args)) == _judged(_rust(args))


@pytest.mark.parametrize("args, code", [
    ({"id": "extract", "retry_attempts": 5000, "retry_backoff": "bogus"}, "task-argument"),
    ({"retry_attempts": -1}, "task-argument"),
    ({"retry_backoff": "random"}, "task-argument"),
    ({"retry_delay_ms": 10, "retry_max_delay_ms": 5}, "task-argument"),
    ({"retry_delay_ms": 7 * 24 * 3600 * 1000 + 1}, "task-argument"),
    ({"retry_jitter": "yes"}, "task-argument"),
    ({"id": "has space"}, "task-argument"),
    ({"dependencies": "b"}, "task-argument"),
    ({"dependencies": [1]}, "task-argument"),
    ({"retries": 3}, "task-argument"),
])
def test_both_languages_refuse_with_the_same_code_and_message(args, code):
    python, rust = _python(args), _rust(args)
    assert [f.code for f in python.findings] == [f.code for f in rust.findings] == [code]
    assert python.tasks == rust.tasks == []
    py_message, rust_message = python.findings[0].message, rust.findings[0].message
    assert py_message.replace("@cloaca.task", "#[task]") == rust_message


def test_rust_retry_attempts_5000_is_refused_at_discovery(tmp_path):
    """Regression: this passed validate_project and package, and the package it wrote was
    then refused by validate_package (manifest-unusable)."""
    crate = create_project("rusty-flow", template="rust", path=tmp_path / "rusty-flow")
    lib = crate / "src" / "lib.rs"
    text = lib.read_text()
    first = '#[task(id = "collect_data", dependencies = [], retry_attempts = 2)]'
    assert first in text
    lib.write_text(text.replace(first, '#[task(id = "extract", dependencies = [], '
                                       'retry_attempts = 5000, retry_backoff = "bogus")]'))
    line = next(i for i, t in enumerate(lib.read_text().splitlines(), 1) if "5000" in t)
    report = validate_project(crate)
    assert [(f.code, f.location) for f in report.errors] == [
        ("task-argument", f"src/lib.rs:{line}")]
    assert "retry_attempts must be an integer from 0 to 1000, not 5000" in \
        report.errors[0].message
    with pytest.raises(ProjectError) as info:  # refused before cargo runs
        build_package(crate, tmp_path / "out.cloacina")
    assert [f.code for f in info.value.findings] == ["task-argument"]
    assert not (tmp_path / "out.cloacina").exists() and not (crate / "target").exists()


# ------------------------------------------------------------------ what the builder writes

def _check_written(found, language: str) -> None:
    """Discovery accepted it: the manifest the builder would write must read back."""
    if has_errors(found.findings) or has_errors(graph_findings(found.tasks, "wf")):
        return
    project = stub_project(language)
    manifest = assemble(project, stub_payload(found, language), package_toml=b"[package]\n",
                        size=1, sha256="0" * 64, epoch=0, revision=None, dirty=None)
    data = checked_manifest(manifest, b"[package]\n")  # raises when a reader would refuse
    parsed, findings = Manifest.parse(data)
    assert findings == [] and parsed is not None and parsed.to_json() == data


@settings(max_examples=150, deadline=None)
@given(python_workflow())
def test_python_discovery_and_manifest_agree(source):
    found = discover(DictTree({"wf/__init__.py": b"", "wf/tasks.py": source.encode()}),
                     "wf.tasks", "wf")
    _check_written(found, "python")


@settings(max_examples=150, deadline=None)
@given(rust_workflow())
def test_rust_discovery_and_manifest_agree(source):
    found = scan_sources([("src/lib.rs", source)])
    _check_written(Discovery(tasks=found.tasks, findings=found.findings), "rust")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(python_workflow())
def test_python_packages_the_builder_writes_validate(source):
    """Real builds: a project discovery accepts becomes a package validate accepts."""
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp) / "p", source, module="wf")
        try:
            built = build_package(root, Path(tmp) / "out.cloacina")
        except ProjectError:
            assert not (Path(tmp) / "out.cloacina").exists()
            return
        report = validate_package(built.path)
        assert report.ok, [f.render() for f in report.findings]
        assert built.manifest.to_json() == Manifest.from_json(
            Manifest.from_json(built.manifest.to_json()).to_json()).to_json()


def _native_lib() -> Path:
    import _ctypes

    return Path(_ctypes.__file__)  # any ELF shared library will do for --native-lib


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rust_workflow())
def test_rust_packages_the_builder_writes_validate(source):
    """Real builds of Rust crates with a prebuilt library (no cargo)."""
    with tempfile.TemporaryDirectory() as tmp:
        crate = Path(tmp) / "crate"
        (crate / "src").mkdir(parents=True)
        (crate / "Cargo.toml").write_text(
            '[package]\nname = "wf-crate"\nversion = "1.0.0"\nedition = "2021"\n\n'
            '[lib]\ncrate-type = ["cdylib", "rlib"]\n')
        (crate / "src" / "lib.rs").write_text(source)
        try:
            built = build_package(crate, Path(tmp) / "out.cloacina", native_lib=_native_lib())
        except ProjectError:
            return
        report = validate_package(built.path)
        assert report.ok, [f.render() for f in report.findings]


# ------------------------------------------------------------------ the builder's own check

def test_a_manifest_over_the_limit_is_refused_and_nothing_written(tmp_path, monkeypatch):
    from cloacina_build.build import assemble as assemble_module

    root = write_project(tmp_path / "p", '''
        import cloaca

        @cloaca.task(id="a")
        def a(context):
            return context
    ''')
    monkeypatch.setattr(assemble_module, "DEFAULT_LIMITS", Limits(max_manifest_size=512))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BuildError) as info:
        build_package(root, out / "p.cloacina")
    assert info.value.code == "manifest-refused"
    assert [f.code for f in info.value.findings] == ["limit-manifest-size"]
    assert "over the 512-byte limit" in info.value.findings[0].message
    assert list(out.iterdir()) == []
    proc = subprocess.run([EXE, "package", str(root), "-o", str(out / "p.cloacina")],
                          capture_output=True, text=True)
    assert proc.returncode == 0  # the subprocess has the real default limits


def test_the_builder_refuses_what_the_reader_would(tmp_path, monkeypatch):
    """A manifest the reader's parser refuses is never written, whatever produced it."""
    from cloacina_build.build import builder

    root = write_project(tmp_path / "p", '''
        import cloaca

        @cloaca.task(id="a")
        def a(context):
            return context
    ''')
    real = builder.assemble

    def broken(*args, **kw):
        m = real(*args, **kw)
        return dataclasses.replace(m, workflow=dataclasses.replace(m.workflow,
                                                                   fingerprint="nope"))
    monkeypatch.setattr(builder, "assemble", broken)
    with pytest.raises(BuildError) as info:
        build_package(root, tmp_path / "p.cloacina")
    assert info.value.code == "manifest-refused"
    assert [f.code for f in info.value.findings] == ["schema-manifest"]
    assert not (tmp_path / "p.cloacina").exists()
    fingerprint = "f" * 64  # well formed, but not the tasks' fingerprint
    monkeypatch.setattr(builder, "assemble", lambda *a, **kw: dataclasses.replace(
        real(*a, **kw), workflow=dataclasses.replace(real(*a, **kw).workflow,
                                                     fingerprint=fingerprint)))
    with pytest.raises(BuildError) as info:
        build_package(root, tmp_path / "p.cloacina")
    assert [f.code for f in info.value.findings] == ["workflow-fingerprint"]
    assert not (tmp_path / "p.cloacina").exists()


def test_discovery_runs_once_when_the_wheel_holds_the_discovered_bytes(tmp_path,
                                                                       monkeypatch):
    from cloacina_build.build import builder
    from cloacina_build.project import discover as project_discover

    root = write_project(tmp_path / "p", '''
        import cloaca

        @cloaca.task(id="a")
        def a(context):
            return context
    ''')
    calls = []
    real = builder.discover
    for module in (builder, project_discover):  # the project's discovery, the wheel's
        monkeypatch.setattr(module, "discover", lambda *a: calls.append(a) or real(*a))
    build_package(root, tmp_path / "p.cloacina")
    assert len(calls) == 1


def test_a_wheel_with_other_bytes_is_discovered_again(tmp_path, monkeypatch):
    """The backend packages a different tasks.py than the source: rediscovered, refused."""
    root = tmp_path / "p"
    (root / "src" / "wf").mkdir(parents=True)
    (root / "src" / "wf" / "__init__.py").write_text("")
    task = 'import cloaca\n\n@cloaca.task(id="{}")\ndef a(context):\n    return context\n'
    (root / "src" / "wf" / "tasks.py").write_text(task.format("a"))
    (root / "other.py").write_text(task.format("b"))
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "wf"\nversion = "1.0"\n[tool.cloacina]\n'
        'entry_module = "wf.tasks"\n[tool.hatch.build.targets.wheel]\n'
        'packages = ["src/wf"]\nexclude = ["src/wf/tasks.py"]\n'
        '[tool.hatch.build.targets.wheel.force-include]\n"other.py" = "wf/tasks.py"\n')
    with pytest.raises(BuildError, match="differ from the project's source"):
        build_package(root, tmp_path / "p.cloacina")
    assert not (tmp_path / "p.cloacina").exists()
    (root / "other.py").write_text(task.format("a") + "# the same task, other bytes\n")
    built = build_package(root, tmp_path / "p.cloacina")  # rediscovered, and it matches
    assert validate_package(built.path).ok


def test_hints_are_bounded_for_many_unknown_dependencies():
    """Ten thousand unknown names: every one is reported, only the first few get a
    did-you-mean hint (each computed against a bounded set of candidates)."""
    from cloacina_build.model import Retry, SourceLocation, Task
    from cloacina_build.project.graph import HINTED

    def task(tid, deps):
        return Task(tid, f"m:{tid}", tuple(deps), Retry(), None, False, None,
                    SourceLocation("m.py", 1), "0" * 64)
    known = [task(f"task_{i:05d}", []) for i in range(5000)]
    unknown = [task("late", [f"tsak_{i:05d}" for i in range(10_000)])]
    findings = graph_findings(known + unknown, "wf")
    assert len(findings) == 10_000
    hinted = [f for f in findings if "did you mean" in f.message]
    assert len(hinted) == HINTED
    assert "did you mean 'task_00000'" in hinted[0].message


def test_too_many_tasks_is_a_graph_finding():
    from cloacina_build import rulebook as rb
    from cloacina_build.model import Retry, SourceLocation, Task

    tasks = [Task(f"t{i}", f"m:t{i}", (), Retry(), None, False, None,
                  SourceLocation("m.py", i), "0" * 64) for i in range(rb.MAX_TASKS + 1)]
    (finding,) = graph_findings(tasks, "wf")
    assert finding.code == "graph-too-large" and f"at most {rb.MAX_TASKS}" in finding.message
    assert finding.location == f"m.py:{rb.MAX_TASKS}"


def test_cargo_is_not_needed_for_these_tests():
    assert shutil.which("cloacinactl") or Path(EXE).exists()


def test_rule_book_patterns_match_whole_strings():
    """A trailing newline once slipped through ``re.match(...$)``."""
    from cloacina_build import rulebook as rb

    for call in (lambda: rb.task_id("a\n"), lambda: rb.function_ref("m:f\n"),
                 lambda: rb.sha256_hex("0" * 64 + "\n", "sha256", "schema-manifest")):
        with pytest.raises(rb.RuleViolation):
            call()
    assert rb.task_id("a") == "a"
