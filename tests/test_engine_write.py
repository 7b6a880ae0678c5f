"""``package --format engine``: the bzip2 source archive the Cloacina engine loads.

Checked with independent readers (Python's ``bz2`` and ``tarfile``, GNU tar), against the
interop specification's rules for what the engine's packer, unpacker and Python loader
expect (../shared/docs/engine-format.md, sections 2 and 6).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import ProjectError, UsageError
from cloacina_build.format.manifest import source_digest
from cloacina_build.model import Manifest, PayloadKind
from cloacina_build.project.scaffold import create_project

from .conftest import EXAMPLES

EXE = str(Path(sys.executable).with_name("cloacinactl"))
EXPLICIT = {"package": ("name", "version", "interface", "interface_version", "extension"),
            "metadata": ("language", "workflow_name", "entry_module")}


def streams(data: bytes) -> list[bytes]:
    """Each bzip2 stream of ``data``, decompressed (what a single-stream reader sees is
    the first)."""
    out = []
    while data:
        dec = bz2.BZ2Decompressor()
        out.append(dec.decompress(data))
        assert dec.eof, "a bzip2 stream is cut short"
        data = dec.unused_data
    return out


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:bz2") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def engine_view(path: Path) -> list[tarfile.TarInfo]:
    """The members the engine sees: the first bzip2 stream only, read as a tar that may end
    at a clean block boundary (tar-rs stops there)."""
    first = streams(path.read_bytes())[0]
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:") as tar:
        return tar.getmembers()


@pytest.fixture(scope="module")
def engine_pipeline(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("engine") / "data-pipeline-1.0.0.cloacina"
    result = build_package(EXAMPLES / "data-pipeline", out, format="engine")
    assert result.path == out
    return out


def test_one_root_an_explicit_manifest_and_the_source(engine_pipeline):
    files = members(engine_pipeline)
    assert {name.split("/")[0] for name in files} == {"data-pipeline-1.0.0"}
    rel = {name.split("/", 1)[1]: data for name, data in files.items()}
    assert set(rel) == {"package.toml", ".cloacina-build/manifest.json",
                        "workflow/data_pipeline/__init__.py", "workflow/data_pipeline/tasks.py"}
    toml = tomllib.loads(rel["package.toml"].decode())
    for table, keys in EXPLICIT.items():
        assert all(key in toml[table] for key in keys), (table, toml[table])
    assert toml["package"]["interface"] == "cloacina-workflow-plugin"
    assert toml["package"]["interface_version"] == 1 and toml["metadata"]["language"] == "python"
    assert "runtime" not in toml["package"] and set(toml) == {"package", "metadata"}
    entry = toml["metadata"]["entry_module"].replace(".", "/")
    assert f"workflow/{entry}.py" in rel
    source = EXAMPLES / "data-pipeline" / "workflow/data_pipeline/tasks.py"
    assert rel["workflow/data_pipeline/tasks.py"] == source.read_bytes()


def test_the_independent_engine_model_accepts_what_the_builder_writes(engine_pipeline,
                                                                     tmp_path):
    """tests/engine_conformance.py re-implements the engine's unpack, both manifest views
    and the layout check from the specification alone; every archive the builder writes
    must pass all of them, the loader's strict view included."""
    from . import engine_conformance

    crate = create_project("conform-crate", template="rust", path=tmp_path / "crate")
    archives = [engine_pipeline,
                build_package(EXAMPLES / "order-etl", tmp_path / "o.cloacina",
                              format="engine").path,
                build_package(crate, tmp_path / "c.cloacina", format="engine").path]
    for archive in archives:
        verdict = engine_conformance.judge(archive.read_bytes())
        assert (verdict.unpack, verdict.resolver, verdict.loader, verdict.layout) == \
            (None, None, None, None), (archive.name, verdict)
        assert verdict.roots == [verdict.root] and ".cloacina-build/manifest.json" in \
            verdict.names


def test_the_manifest_describes_every_file(engine_pipeline):
    files = {n.split("/", 1)[1]: d for n, d in members(engine_pipeline).items()}
    manifest = Manifest.from_json(files.pop(".cloacina-build/manifest.json"))
    assert manifest.payload.kind is PayloadKind.SOURCE
    assert {m.path: (m.size, m.sha256) for m in manifest.members} == {
        path: (len(data), hashlib.sha256(data).hexdigest()) for path, data in files.items()}
    assert manifest.payload.sha256 == source_digest(manifest.members)  # no vendor/ here
    assert manifest.payload.size == sum(len(d) for p, d in files.items() if p != "package.toml")
    assert [t.id for t in manifest.workflow.tasks] == [
        "collect_data", "generate_report", "process_data"]


def test_the_manifest_comes_second_and_the_engine_sees_every_member(engine_pipeline):
    seen = engine_view(engine_pipeline)
    assert [m.name.split("/", 1)[1] for m in seen[:2]] == [
        "package.toml", ".cloacina-build/manifest.json"]
    assert [m.name for m in seen] == list(members(engine_pipeline))
    assert all(m.isfile() and m.mode == 0o644 and m.uid == m.gid == 0 and not m.uname
               and m.mtime == 315532800 for m in seen)
    first, second = streams(engine_pipeline.read_bytes())
    assert len(first) % 512 == 0 and first[-512:] != b"\0" * 512  # no end blocks in stream 1
    assert second == b"\0" * 1024                                  # the end, in stream 2
    assert engine_pipeline.read_bytes()[:4] == b"BZh9"


def test_it_validates_without_a_finding(engine_pipeline):
    """Read back by the engine reader: every engine rule, the manifest's digests against
    the members, the tasks against the source; the second stream is recognised as this
    tool's trailer (no trailing-data warning)."""
    from cloacina_build.ops.validate import validate_package

    report = validate_package(engine_pipeline)
    assert report.ok and report.findings == [], report.findings


def test_a_file_the_engine_would_refuse_is_never_written(pipeline_project, tmp_path):
    """A top-level module named like the standard library is refused by the engine's
    Python loader: package refuses it with the loader's rule, and writes nothing."""
    from cloacina_build.errors import BuildError

    (pipeline_project / "workflow/json.py").write_text("X = 1\n")
    out = tmp_path / "out"
    with pytest.raises(BuildError) as err:
        build_package(pipeline_project, out / "x.cloacina", format="engine")
    assert err.value.code == "engine-refused"
    assert "engine-stdlib-shadow" in [f.code for f in err.value.findings]
    assert not out.exists() or not any(out.iterdir())


def test_builds_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # same provenance: none
    for name in ("one", "copy"):
        shutil.copytree(EXAMPLES / "data-pipeline", tmp_path / name,
                        ignore=shutil.ignore_patterns("dist", "__pycache__"))
    first = build_package(tmp_path / "one", tmp_path / "first.cloacina", format="engine").path
    copy = tmp_path / "copy"
    for path in copy.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        if path.is_file():
            path.chmod(0o600)
    (copy / "workflow/data_pipeline/__pycache__").mkdir()
    (copy / "workflow/data_pipeline/__pycache__/tasks.cpython-311.pyc").write_bytes(b"junk")
    again = build_package(copy, tmp_path / "again.cloacina", format="engine").path
    assert again.read_bytes() == first.read_bytes()


def test_gnu_tar_reads_it(engine_pipeline, tmp_path):
    if not shutil.which("tar") or not shutil.which("bzip2"):
        pytest.skip("needs GNU tar and bzip2")
    proc = subprocess.run(["tar", "-xjf", str(engine_pipeline), "-C", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "data-pipeline-1.0.0"
    assert (root / "workflow/data_pipeline/tasks.py").is_file()
    assert json.loads((root / ".cloacina-build/manifest.json").read_text())["format"] == \
        "cloacina-package"


def test_a_workflow_with_problems_writes_nothing(pipeline_project, tmp_path):
    tasks = pipeline_project / "workflow/data_pipeline/tasks.py"
    tasks.write_text(tasks.read_text().replace('dependencies=[]',
                                               'dependencies=["generate_report"]'))
    out = tmp_path / "out"
    with pytest.raises(ProjectError):
        build_package(pipeline_project, out / "x.cloacina", format="engine")
    assert not out.exists() or not any(out.iterdir())


def test_a_rust_crate_ships_its_source(tmp_path):
    crate = create_project("engine-crate", template="rust", path=tmp_path / "crate")
    out = build_package(crate, tmp_path / "crate.cloacina", format="engine").path
    rel = {n.split("/", 1)[1] for n in members(out)}
    assert {"package.toml", "Cargo.toml", "src/lib.rs"} <= rel
    assert not any(name.endswith(".py") for name in rel)
    toml = tomllib.loads(members(out)["engine-crate-0.1.0/package.toml"].decode())
    assert toml["metadata"]["language"] == "rust"


def test_the_cli_writes_it_and_reports_json(tmp_path):
    proc = subprocess.run([EXE, "package", str(EXAMPLES / "order-etl"), "--format", "engine",
                           "-o", f"{tmp_path}/", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and out["payload"]["kind"] == "source"
    assert Path(out["path"]).read_bytes()[:3] == b"BZh"


def test_options_the_engine_format_cannot_take_yet(tmp_path):
    with pytest.raises(UsageError):
        build_package(EXAMPLES / "data-pipeline", tmp_path / "x.cloacina", format="engine",
                      isolated=True)
    with pytest.raises(UsageError):
        build_package(EXAMPLES / "data-pipeline", tmp_path / "x.cloacina", format="zip")


def test_the_project_settings_choose_the_default_format(pipeline_project, tmp_path):
    settings = pipeline_project / "cloacina-build.toml"
    settings.write_text('[package]\nformat = "engine"\n')
    out = build_package(pipeline_project, tmp_path / "a.cloacina").path
    assert out.read_bytes()[:3] == b"BZh"
    out = build_package(pipeline_project, tmp_path / "b.cloacina", format="cloacina").path
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # --format wins over the settings
    settings.write_text('[package]\nformat = "egnine"\n')
    with pytest.raises(ProjectError) as err:
        build_package(pipeline_project, tmp_path / "c.cloacina")
    assert err.value.code == "config-settings" and "egnine" in err.value.diagnostics()
    settings.write_text('[pakage]\nformat = "engine"\n')
    with pytest.raises(ProjectError):
        build_package(pipeline_project, tmp_path / "d.cloacina")


@pytest.mark.parametrize("template", ["python", "pyproject", "rust"])
def test_new_projects_carry_the_setting(tmp_path, template):
    from cloacina_build.project.settings import load_settings

    project = create_project("set-demo", template=template, path=tmp_path / template)
    text = (project / "cloacina-build.toml").read_text()
    assert 'format = "cloacina"' in text and '"engine"' in text
    assert load_settings(project).format == "cloacina"
    if template != "rust":  # switching it makes engine archives the project's default
        (project / "cloacina-build.toml").write_text(text.replace('format = "cloacina"',
                                                                  'format = "engine"'))
        out = build_package(project, tmp_path / f"{template}.cloacina").path
        assert out.read_bytes()[:3] == b"BZh"


def test_what_the_writer_describes_is_what_the_reader_reads(tmp_path):
    """package --format engine judges its archive from what it wrote (describe_written)
    instead of decompressing it again; on every archive it writes, that description must
    be the full reader's, member for member, finding for finding."""
    from cloacina_build.format.engine.archive import describe_written, open_engine
    from cloacina_build.ops.engine import validate_engine_archive

    project = create_project("agree-demo", template="python", path=tmp_path / "p")
    (project / "vendor" / "helper").mkdir(parents=True)
    (project / "vendor" / "helper" / "__init__.py").write_text("X = 1\n")
    (project / "workflow" / "Notes.TXT").write_text("not python\n")
    for source in (EXAMPLES / "data-pipeline", project):
        out = build_package(source, tmp_path / f"{source.name}.cloacina", format="engine").path
        data = out.read_bytes()
        end = len(data) - len(bz2.compress(b"\0" * 1024, 9))  # the unsigned trailer
        files = members(out)
        listing = [(name, len(body), hashlib.sha256(body).hexdigest(), lambda b=body: b)
                   for name, body in files.items()]
        described, read = describe_written(out, listing, end), open_engine(out)
        assert described.members == read.members and described.root == read.root
        assert dict(described.sources) == dict(read.sources)
        assert described.findings == read.findings and described.trailing == read.trailing
        assert validate_engine_archive(described).findings == \
            validate_engine_archive(read).findings


def test_a_vendored_file_with_phantom_params_is_refused(pipeline_project, tmp_path):
    """The engine's compiler reads declared params from every .py file (§2.7): a vendored
    module mentioning workflow_params( would add params the workflow never declared."""
    from cloacina_build.errors import BuildError

    vendored = pipeline_project / "vendor" / "lib"
    vendored.mkdir(parents=True)
    (vendored / "__init__.py").write_text("def f():\n    return workflow_params(x=1)\n")
    with pytest.raises(BuildError) as err:
        build_package(pipeline_project, tmp_path / "x.cloacina", format="engine")
    assert err.value.code == "engine-refused"
    assert [f.code for f in err.value.findings] == ["engine-stray-python"]
    assert not (tmp_path / "x.cloacina").exists()
    (vendored / "__init__.py").write_text("X = 1\n")
    assert build_package(pipeline_project, tmp_path / "x.cloacina", format="engine").path


def test_vendored_files_are_covered_by_the_payload_digest_not_listed(pipeline_project,
                                                                     tmp_path):
    """The manifest lists the files outside vendor/; the payload digest covers every file:
    a vendored file changed after the build is caught by validate all the same."""
    from cloacina_build.ops.validate import validate_package

    from . import engine_tools as et

    vendored = pipeline_project / "vendor" / "helper"
    vendored.mkdir(parents=True)
    (vendored / "__init__.py").write_text("X = 1\n")
    out = build_package(pipeline_project, tmp_path / "v.cloacina", format="engine").path
    files = {n.split("/", 1)[1]: d for n, d in members(out).items()}
    manifest = Manifest.from_json(files[".cloacina-build/manifest.json"])
    assert "vendor/helper/__init__.py" not in {m.path for m in manifest.members}
    assert validate_package(out).ok
    files["vendor/helper/__init__.py"] = b"X = 2\n"
    tampered = tmp_path / "t.cloacina"
    tampered.write_bytes(et.fidius_like(files, "data-pipeline-1.0.0"))
    report = validate_package(tampered)
    assert "digest-mismatch" in [f.code for f in report.errors], report.findings
    del files["vendor/helper/__init__.py"]
    tampered.write_bytes(et.fidius_like(files, "data-pipeline-1.0.0"))
    assert "digest-mismatch" in [f.code for f in validate_package(tampered).errors]
