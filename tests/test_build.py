"""Real builds in temporary directories: both layouts, reproducibility, atomic output."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import textwrap
from pathlib import Path

import pytest
import zstandard

from cloacina_build.build.builder import build_package
from cloacina_build.errors import BuildError, ProjectError, UsageError
from cloacina_build.format.package import open_package
from cloacina_build.model import PayloadKind
from cloacina_build.ops.validate import validate_package

from .conftest import EXAMPLES


def members(path: Path) -> list[tarfile.TarInfo]:
    with open(path, "rb") as fh:
        reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            return list(tar)


def test_canonical_build_layout_and_normalised_headers(built_pipeline):
    infos = members(built_pipeline)
    assert [i.name for i in infos] == ["package.toml", "manifest.json",
                                       "payload/data_pipeline-1.0.0-py3-none-any.whl"]
    for info in infos:
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.mode == 0o644 and info.mtime == 315532800 and info.isreg()


def test_manifest_describes_the_pipeline(built_pipeline):
    pkg = open_package(built_pipeline)
    wf = pkg.manifest.workflow
    assert [(t.id, t.dependencies) for t in wf.tasks] == [
        ("collect_data", ()), ("generate_report", ("process_data",)),
        ("process_data", ("collect_data",))]
    assert pkg.manifest.payload.kind is PayloadKind.WHEEL
    assert pkg.manifest.payload.tags == ("py3-none-any",)
    assert pkg.metadata["metadata"]["entry_module"] == "data_pipeline.tasks"
    assert pkg.manifest.build.tool == "cloacina-build"
    assert pkg.signatures == []


def test_both_examples_validate(built_pipeline, built_etl):
    for path in (built_pipeline, built_etl):
        report = validate_package(path)
        assert report.ok, [f.render() for f in report.findings]
        assert report.findings == []


def test_two_builds_are_byte_identical(tmp_path, built_pipeline):
    again = tmp_path / "again.cloacina"
    build_package(EXAMPLES / "data-pipeline", again)
    assert again.read_bytes() == built_pipeline.read_bytes()


def test_source_date_epoch_sets_every_time(tmp_path, monkeypatch, pipeline_project):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = build_package(pipeline_project, tmp_path / "x.cloacina").path
    assert {i.mtime for i in members(out)} == {1700000000}
    assert open_package(out).manifest.build.source_date_epoch == 1700000000


def test_reproducible_across_checkout_mtimes_and_modes(tmp_path, pipeline_project):
    first = build_package(pipeline_project, tmp_path / "first.cloacina").path
    for path in pipeline_project.rglob("*"):
        if path.is_file():
            os.utime(path, (1234567, 1234567))
            path.chmod(0o600)
    out = build_package(pipeline_project, tmp_path / "x.cloacina").path
    assert out.read_bytes() == first.read_bytes()


def test_default_output_path(pipeline_project):
    result = build_package(pipeline_project)
    assert result.path == pipeline_project.resolve() / "dist" / "data-pipeline-1.0.0.cloacina"
    assert result.path.is_file() and result.size == result.path.stat().st_size


def test_output_directory(tmp_path, pipeline_project):
    result = build_package(pipeline_project, tmp_path)
    assert result.path == tmp_path / "data-pipeline-1.0.0.cloacina"


def test_pep621_dynamic_version_from_the_wheel(tmp_path):
    project = tmp_path / "dyn"
    shutil.copytree(EXAMPLES / "order-etl", project)
    text = (project / "pyproject.toml").read_text()
    text = text.replace('version = "0.3.0"\n', 'dynamic = ["version"]\n')
    text += '\n[tool.hatch.version]\npath = "src/order_etl/__init__.py"\n'
    (project / "pyproject.toml").write_text(text)
    (project / "src/order_etl/__init__.py").write_text('__version__ = "4.5.6"\n')
    result = build_package(project, tmp_path)
    assert result.path.name == "order-etl-4.5.6.cloacina"
    assert validate_package(result.path).ok


def test_graph_error_builds_and_writes_nothing(tmp_path, pipeline_project):
    tasks = pipeline_project / "workflow/data_pipeline/tasks.py"
    tasks.write_text(tasks.read_text().replace('dependencies=[]',
                                               'dependencies=["generate_report"]'))
    out = tmp_path / "out.cloacina"
    with pytest.raises(ProjectError) as info:
        build_package(pipeline_project, out)
    (finding,) = info.value.findings
    assert finding.code == "graph-cycle"
    assert finding.message == ("dependency cycle: collect_data -> generate_report -> "
                               "process_data -> collect_data")
    assert finding.location == "workflow/data_pipeline/tasks.py:10"
    assert list(tmp_path.iterdir()) == [pipeline_project]


def test_failed_build_keeps_the_previous_package(tmp_path, pipeline_project, built_pipeline):
    out = tmp_path / "keep.cloacina"
    shutil.copyfile(built_pipeline, out)
    (pipeline_project / "package.toml").write_text(
        (pipeline_project / "package.toml").read_text().replace('version = "1.0.0"',
                                                                'version = "1.0.0"\nbogus = 1'))
    with pytest.raises(ProjectError):
        build_package(pipeline_project, out)
    assert out.read_bytes() == built_pipeline.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data-pipeline", "keep.cloacina"]


def test_backend_failure_shows_its_output(tmp_path):
    project = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "order-etl", project)
    with open(project / "pyproject.toml", "a") as fh:
        fh.write('\n[tool.hatch.build.targets.wheel.force-include]\n"missing.txt" = "x.txt"\n')
    with pytest.raises(BuildError) as info:
        build_package(project, tmp_path / "x.cloacina")
    assert "the wheel build failed" in info.value.message
    assert "missing.txt" in info.value.message  # the backend's last line: its exception
    assert "\n" not in info.value.message and "Traceback" not in info.value.message
    assert not (tmp_path / "x.cloacina").exists()


def test_unavailable_backend_is_an_environment_error(tmp_path):
    project = tmp_path / "nobackend"
    shutil.copytree(EXAMPLES / "order-etl", project)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace('build-backend = "hatchling.build"', 'build-backend = "no_such_backend_x"'))
    with pytest.raises(UsageError) as info:
        build_package(project, tmp_path / "x.cloacina")
    assert info.value.code == "backend-unavailable" and "--isolated" in info.value.hint
    assert "no_such_backend_x" in info.value.message and "\n" not in info.value.message


def test_wheel_without_the_workflow_is_refused(tmp_path):
    project = tmp_path / "wrongpkg"
    shutil.copytree(EXAMPLES / "order-etl", project)
    (project / "src/other").mkdir()
    (project / "src/other/__init__.py").write_text("")
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('packages = ["src/order_etl"]',
                                                         'packages = ["src/other"]'))
    with pytest.raises(BuildError, match="does not contain entry module 'order_etl.workflow'"):
        build_package(project, tmp_path / "x.cloacina")


def test_symlink_out_of_the_project_is_refused(tmp_path, pipeline_project):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship me")
    (pipeline_project / "workflow/data_pipeline/leak.txt").symlink_to(secret)
    with pytest.raises(ProjectError, match="outside the project"):
        build_package(pipeline_project, tmp_path / "x.cloacina")


def test_vendor_directory_is_shipped(tmp_path, pipeline_project):
    vendored = pipeline_project / "vendor/tinylib"
    vendored.mkdir(parents=True)
    (vendored / "__init__.py").write_text("VALUE = 1\n")
    result = build_package(pipeline_project, tmp_path / "v.cloacina")
    import zipfile

    with open(result.path, "rb") as fh:
        reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for info in tar:
                if info.name.startswith("payload/"):
                    wheel = tmp_path / "w.whl"
                    wheel.write_bytes(tar.extractfile(info).read())
    names = zipfile.ZipFile(wheel).namelist()
    assert "tinylib/__init__.py" in names and "data_pipeline/tasks.py" in names
    assert not any("__pycache__" in n for n in names)


def test_manifest_is_canonical_json(built_pipeline):
    pkg = open_package(built_pipeline)
    assert pkg.manifest_bytes == (json.dumps(pkg.manifest.to_dict(), sort_keys=True, indent=2,
                                             ensure_ascii=False) + "\n").encode()
    assert pkg.manifest_bytes == pkg.manifest.to_json()


def test_build_provenance_in_a_git_checkout(tmp_path, pipeline_project):
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for cmd in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=pipeline_project, check=True, env=env)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pipeline_project,
                          capture_output=True, text=True).stdout.strip()
    build = build_package(pipeline_project).manifest.build
    assert build.source_revision == head and build.source_dirty is False
    (pipeline_project / "package.toml").write_text(
        (pipeline_project / "package.toml").read_text() + "\n")
    assert build_package(pipeline_project).manifest.build.source_dirty is True


def test_no_source_revision_outside_git(tmp_path):
    project = tmp_path / "plain"
    shutil.copytree(EXAMPLES / "data-pipeline", project)
    env_ceiling = os.environ.get("GIT_CEILING_DIRECTORIES")
    os.environ["GIT_CEILING_DIRECTORIES"] = str(tmp_path)
    try:
        build = build_package(project).manifest.build
    finally:
        if env_ceiling is None:
            del os.environ["GIT_CEILING_DIRECTORIES"]
        else:
            os.environ["GIT_CEILING_DIRECTORIES"] = env_ceiling
    assert build.source_revision is None


def textblock(s: str) -> str:
    return textwrap.dedent(s)


def test_output_directory_that_does_not_exist_yet(tmp_path, pipeline_project):
    result = build_package(pipeline_project, str(tmp_path / "new" / "dir") + "/")
    assert result.path == tmp_path / "new" / "dir" / "data-pipeline-1.0.0.cloacina"
    with pytest.raises(UsageError, match="must end in .cloacina or be a directory"):
        build_package(pipeline_project, tmp_path / "ambiguous")
