"""``convert``: a zstd package to an engine archive and back, where nothing is lost, and the
refusals where something would be."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloacina_build.build import convert as conv
from cloacina_build.build.builder import build_package
from cloacina_build.build.convert import convert_package
from cloacina_build.cli.main import cli
from cloacina_build.errors import BuildError, CloacinaError, PackageError, UsageError
from cloacina_build.format.package import open_package
from cloacina_build.model import Manifest, PayloadKind
from cloacina_build.ops.engine import inspect_engine, validate_engine
from cloacina_build.ops.validate import validate_package
from cloacina_build.project.scaffold import create_project
from cloacina_build.trust.keys import generate, load_signing_key

from . import engine_tools as et

VENDORED = {"vendor/helperlib/__init__.py": b"VALUE = 1\n",
            "vendor/helperlib/data.txt": b"not python\n"}


def zstd_package(tmp: Path, extra: dict[str, bytes] | None = None, **kw) -> Path:
    project = et.write_tree(tmp / "project", et.project_files(extra=extra, **kw))
    return build_package(project, tmp / "in.cloacina").path


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    return zstd_package(tmp_path_factory.mktemp("convert"), VENDORED)


def tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:bz2") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_round_trip_keeps_the_workflow_and_the_files(original, tmp_path):
    before = open_package(original).manifest.workflow
    engine = convert_package(original, "engine", f"{tmp_path}/e/")
    assert engine.path == tmp_path / "e" / "etl-demo-1.0.0.cloacina"
    assert engine.manifest.workflow == before
    names = tar_members(engine.path)
    root = "etl-demo-1.0.0/"
    assert list(names)[:2] == [root + "package.toml", root + ".cloacina-build/manifest.json"]
    assert names[root + "workflow/helperlib/data.txt"] == b"not python\n"
    assert names[root + "workflow/etl_demo/tasks.py"].startswith(b"import cloaca")
    assert not any(".dist-info" in n for n in names)
    assert validate_engine(engine.path).findings == []
    shown = inspect_engine(engine.path)
    assert shown.tasks_from == "build-manifest" and shown.workflow == before

    back = convert_package(engine.path, "cloacina", tmp_path / "z" / "back.cloacina")
    assert back.path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    assert back.manifest.workflow.fingerprint == before.fingerprint
    assert back.manifest.workflow == before
    report = validate_package(back.path)
    assert report.ok, report.findings


def test_an_engine_archive_written_elsewhere_converts(tmp_path):
    files = et.project_files(extra={"vendor/helperlib/__init__.py": b"X = 2\n"})
    src = tmp_path / "etl-demo-1.0.0.cloacina"
    src.write_bytes(et.tarfile_pax(files, "etl-demo-1.0.0"))
    result = convert_package(src, "cloacina", f"{tmp_path}/out/")
    assert result.manifest.workflow == validate_engine(src).workflow
    assert {t.id for t in result.manifest.workflow.tasks} == {"extract", "transform", "load"}
    assert validate_package(result.path).ok


def test_the_input_is_never_replaced_and_a_signed_output_needs_force(original, tmp_path):
    engine = convert_package(original, "engine", tmp_path / "etl-demo-1.0.0.cloacina").path
    with pytest.raises(UsageError) as info:
        convert_package(engine, "cloacina")  # the default output is the input's own name
    assert info.value.code == "exists"
    out = tmp_path / "signed.cloacina"
    convert_package(engine, "cloacina", out)
    private, _, _ = generate("conv", tmp_path / "keys")
    from cloacina_build.ops.signing import sign_package

    sign_package(out, load_signing_key(str(private)))
    before = out.read_bytes()
    with pytest.raises(UsageError) as info:
        convert_package(engine, "cloacina", out)
    assert info.value.code == "exists" and out.read_bytes() == before
    again = convert_package(engine, "cloacina", out, force=True)
    assert again.replaced and validate_package(out).ok
    assert again.signatures_dropped == 0
    sign_package(out, load_signing_key(str(private)))  # converting a signed package says
    back = convert_package(out, "engine", tmp_path / "back.cloacina")  # what it dropped
    assert back.signatures_dropped == 1 and back.to_dict()["signatures_dropped"] == 1


def refused(code: str, *args, **kw) -> CloacinaError:
    with pytest.raises(CloacinaError) as info:
        convert_package(*args, **kw)
    assert info.value.code == code, info.value.diagnostics()
    assert info.value.hint
    return info.value


def test_usage_refusals(original, tmp_path):
    refused("usage", original, "cloacina", tmp_path / "x.cloacina")   # already that format
    refused("usage", original, "zip", tmp_path / "x.cloacina")
    refused("usage", tmp_path / "missing.cloacina", "engine")
    junk = tmp_path / "junk.cloacina"
    junk.write_bytes(b"not a package")
    refused("archive-not-zstd", junk, "engine")
    refused("usage", original, "engine", tmp_path / "x.zip")


def test_a_wheel_shadowing_the_stdlib_is_refused(tmp_path):
    pkg = zstd_package(tmp_path, {"vendor/json/__init__.py": b""})
    refused("convert-stdlib-shadow", pkg, "engine", f"{tmp_path}/out/")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_compiled_file_is_refused(tmp_path):
    pkg = zstd_package(tmp_path, {"vendor/fast/_speed.cpython-311-x86_64-linux-gnu.so":
                                  b"\x7fELF not really"})
    refused("convert-compiled", pkg, "engine", tmp_path / "out.cloacina")
    assert not (tmp_path / "out.cloacina").exists()


def test_a_native_payload_is_refused(original, tmp_path, monkeypatch):
    real = open_package(original)
    payload = dataclasses.replace(real.manifest.payload, kind=PayloadKind.NATIVE)
    fake = dataclasses.replace(real, manifest=dataclasses.replace(real.manifest,
                                                                  payload=payload))
    monkeypatch.setattr(conv, "open_package", lambda path: fake)
    refused("convert-native", original, "engine", tmp_path / "out.cloacina")


def _wheel(tmp: Path, files: dict[str, bytes], purelib: bool = True) -> Path:
    path = tmp / "w-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("w-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: "
                    f"{'true' if purelib else 'false'}\n")
    return path


def test_wheel_content_rules(tmp_path):
    ok = _wheel(tmp_path, {"w/__init__.py": b"", "w-1.0.data/purelib/extra.py": b"X = 1\n"})
    got = conv.unpack_wheel(ok, tmp_path / "a")
    assert set(got) == {"w/__init__.py", "extra.py"}
    assert (tmp_path / "a" / "extra.py").read_bytes() == b"X = 1\n"
    for files, purelib, code in (
            ({"w-1.0.data/scripts/run": b"#!/bin/sh\n"}, True, "convert-wheel-data"),
            ({"w-1.0.data/headers/w.h": b""}, True, "convert-wheel-data"),
            ({"w/__init__.py": b""}, False, "convert-compiled"),
            ({"w/_c.pyd": b""}, True, "convert-compiled"),
            ({"subprocess.py": b""}, True, "convert-stdlib-shadow")):
        sub = tmp_path / code / str(len(files))
        sub.mkdir(parents=True, exist_ok=True)
        with pytest.raises(BuildError) as info:
            conv.unpack_wheel(_wheel(sub, files, purelib), sub / "out")
        assert info.value.code == code


def test_engine_archives_that_would_lose_something(tmp_path):
    extra = et.project_files(extra={"README.md": b"read me"})
    src = tmp_path / "a.cloacina"
    src.write_bytes(et.tarfile_pax(extra, "etl-demo-1.0.0"))
    refused("convert-lossy", src, "cloacina", tmp_path / "o.cloacina")
    toml = et.PACKAGE_TOML.format(name="etl-demo", version="1.0.0", module="etl_demo") + \
        'graph_name = "g"\n'
    src.write_bytes(et.tarfile_pax(et.project_files(toml=toml), "etl-demo-1.0.0"))
    assert validate_engine(src).findings == []
    error = refused("convert-lossy", src, "cloacina", tmp_path / "o.cloacina")
    assert "graph_name" in error.message
    assert not (tmp_path / "o.cloacina").exists()


def test_an_invalid_archive_or_a_rust_one_is_refused(tmp_path):
    files = et.project_files(extra={"workflow/os/__init__.py": b""})
    src = tmp_path / "bad.cloacina"
    src.write_bytes(et.tarfile_pax(files, "etl-demo-1.0.0"))
    error = refused("convert-invalid", src, "cloacina", tmp_path / "o.cloacina")
    assert isinstance(error, PackageError) and error.findings
    crate = create_project("conv-crate", template="rust", path=tmp_path / "crate")
    rust = build_package(crate, tmp_path / "crate.cloacina", format="engine").path
    refused("convert-no-workflow", rust, "cloacina", tmp_path / "o.cloacina")


def test_drift_is_refused(original):
    wf = open_package(original).manifest.workflow
    task = dataclasses.replace(wf.tasks[0], fingerprint="0" * 64)
    other = dataclasses.replace(wf, tasks=(task, *wf.tasks[1:]))
    with pytest.raises(BuildError) as info:
        conv.same_workflow(wf, other)
    assert info.value.code == "convert-drift" and task.id in info.value.message
    with pytest.raises(BuildError) as info:
        conv.same_files({"a.py": "1"}, {"a.py": "2"}, "x")
    assert info.value.code == "convert-lossy"


def test_the_cli(original, tmp_path):
    run = CliRunner().invoke(cli, ["convert", str(original), "--to", "engine", "-o",
                                   f"{tmp_path}/", "--json"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    assert out["ok"] and out["to"] == "engine" and Path(out["path"]).is_file()
    assert out["workflow"]["fingerprint"] == open_package(original).manifest.workflow.fingerprint
    pkg = zstd_package(tmp_path / "s", {"vendor/json/__init__.py": b""})
    run = CliRunner().invoke(cli, ["convert", str(pkg), "--to", "engine", "-o",
                                   str(tmp_path / "x.cloacina")])
    assert run.exit_code == 1
    assert "error: cannot convert losslessly" in run.output and "hint:" in run.output
    assert "Traceback" not in run.output


def test_inspect_reads_the_head_only_for_our_archives(original, tmp_path):
    engine = convert_package(original, "engine", tmp_path / "e.cloacina").path
    head = inspect_engine(engine)
    data = head.to_dict()
    assert data["tasks_from"] == "build-manifest" and data["read"] == "head"
    assert "validate" in data["note"]
    # the same archive without our manifest: discovered from the source, read whole
    files = {n.split("/", 1)[1]: d for n, d in tar_members(engine).items()
             if ".cloacina-build" not in n}
    plain = tmp_path / "plain.cloacina"
    plain.write_bytes(et.tarfile_pax(files, "etl-demo-1.0.0"))
    whole = inspect_engine(plain).to_dict()
    assert whole["tasks_from"] == "source" and whole["read"] == "whole"
    assert whole["tasks"] == data["tasks"] and whole["workflow"] == data["workflow"]
    # a head that disagrees with itself is not trusted: read whole
    manifest = Manifest.parse(tar_members(engine)["etl-demo-1.0.0/.cloacina-build/"
                                                  "manifest.json"])[0]
    assert manifest is not None
    moved = tmp_path / "moved.cloacina"
    members = tar_members(engine)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name.replace("etl-demo-1.0.0", "other-2.0"))
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    moved.write_bytes(buf.getvalue())
    assert inspect_engine(moved).tasks_from == "source"


def test_only_the_distributions_own_data_directory_is_special(tmp_path):
    """As for the installer: a top-level directory merely ending in '.data' installs as
    itself (found by review: convert refused model.data/ and moved other-2.0.data/)."""
    import zipfile

    from cloacina_build.build.convert import unpack_wheel

    wheel = tmp_path / "w-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("w/__init__.py", "X = 1\n")
        zf.writestr("model.data/weights.bin", b"\0\1")
        zf.writestr("other-2.0.data/purelib/x.py", "Y = 2\n")
        zf.writestr("w-1.0.data/purelib/extra.py", "Z = 3\n")
        zf.writestr("w-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        zf.writestr("w-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: w\nVersion: 1.0\n")
        zf.writestr("w-1.0.dist-info/RECORD", "")
    files = unpack_wheel(wheel, tmp_path / "out")
    assert sorted(files) == ["extra.py", "model.data/weights.bin",
                             "other-2.0.data/purelib/x.py", "w/__init__.py"]


def test_head_only_inspect_text_says_what_it_read(original, tmp_path):
    """The text of a head-only inspection says its member count is of what it read, and
    where the tasks came from (found by a new user: '2 member(s)' for a 4-file archive)."""
    from click.testing import CliRunner

    from cloacina_build.cli.main import cli

    engine = convert_package(original, "engine", tmp_path / "e.cloacina").path
    text = CliRunner().invoke(cli, ["inspect", str(engine)]).output
    assert "(only its first 2 members read)" in text and "tasks from:" in text
