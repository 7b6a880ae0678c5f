"""Native (Rust) payloads end to end: the rust template, cargo, ELF facts, hostile libraries."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import BuildError, PackageError, ProjectError
from cloacina_build.format.elf import describe_library
from cloacina_build.format.package import open_package
from cloacina_build.ops.validate import validate_package
from cloacina_build.project.rust import discover_crate, fingerprint_tokens, tokenize
from cloacina_build.project.scaffold import create_project

from .hostile import edit_manifest, fix_manifest, payload_name, read_members, replace, write_members

EXE = str(Path(sys.executable).with_name("cloacinactl"))
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None,
                                 reason="cargo is not installed on this machine")


@pytest.fixture(scope="module")
def crate(tmp_path_factory) -> Path:
    return create_project("rusty-flow", template="rust",
                          path=tmp_path_factory.mktemp("rust") / "rusty-flow")


@pytest.fixture(scope="module")
def native_pkg(crate, tmp_path_factory) -> Path:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed on this machine")
    return build_package(crate, tmp_path_factory.mktemp("out") / "rusty.cloacina").path


@needs_cargo
def test_the_rust_template_tests_pass_offline(crate):
    proc = subprocess.run(["cargo", "test", "--offline"], cwd=crate, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test result: ok. 2 passed" in proc.stdout
    for required in ("README.md", ".gitignore", ".github/workflows/package.yml", "tests"):
        assert (crate / required).exists(), required
    first = (crate / "Cargo.toml").read_text().splitlines()
    patch_lines = [line for line in first if line.startswith("patch.crates-io")]
    assert len(patch_lines) == 1  # the one line to delete for the real crates


@needs_cargo
def test_package_validate_and_inspect_a_native_package(native_pkg, crate):
    report = validate_package(native_pkg)
    assert report.ok, [f.render() for f in report.findings]
    pkg = open_package(native_pkg)
    m = pkg.manifest.to_dict()
    assert m["payload"]["kind"] == "native" and m["package"]["language"] == "rust"
    assert m["payload"]["filename"] == "librusty_flow.so"
    built = describe_library(crate / "target" / "release" / "librusty_flow.so")
    assert m["native"] == built
    assert built["exported_symbols"] == ["cloacina_workflow_metadata"]
    assert built["elf_class"] in (32, 64) and built["glibc_floor"]
    assert [(t["id"], t["dependencies"]) for t in m["workflow"]["tasks"]] == [
        ("collect_data", []), ("generate_report", ["process_data"]),
        ("process_data", ["collect_data"])]
    assert m["workflow"]["fingerprint_algorithm"] == "cloacina-rust-tokens-v1"
    info = json.loads(subprocess.run([EXE, "inspect", str(native_pkg), "--json"],
                                     capture_output=True, text=True).stdout)
    assert info["native"]["target"] == built["target"]
    text = subprocess.run([EXE, "inspect", str(native_pkg)], capture_output=True,
                          text=True).stdout
    assert "native payload" in text and "glibc >= " in text


@needs_cargo
def test_validate_the_crate_directory(crate):
    proc = subprocess.run([EXE, "validate", str(crate)], capture_output=True, text=True)
    assert proc.returncode == 0 and "valid: rusty-flow 0.1.0 (project)" in proc.stdout


@needs_cargo
def test_a_prebuilt_library(native_pkg, crate, tmp_path):
    lib = tmp_path / "librusty_flow.so"
    shutil.copyfile(crate / "target" / "release" / "librusty_flow.so", lib)
    proc = subprocess.run([EXE, "package", str(crate), "--native-lib", str(lib), "-o",
                           str(tmp_path / "pre.cloacina")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert validate_package(tmp_path / "pre.cloacina").ok
    other = create_project("other-flow", template="rust", path=tmp_path / "other")
    src = other / "src" / "lib.rs"
    src.write_text(src.read_text().replace('dependencies = ["process_data"]',
                                           'dependencies = ["collect_data"]'))
    with pytest.raises(BuildError, match="task graph differs from the crate's source"):
        build_package(other, tmp_path / "x.cloacina", native_lib=lib)


def _with_library(base: Path, out: Path, data: bytes, fix_native=None) -> Path:
    members = read_members(base)
    name = payload_name(members)
    members = replace(members, name, data)
    if fix_native:
        members = edit_manifest(members, fix_native)
    return write_members(out, fix_manifest(members))


@needs_cargo
def test_elf_machine_contradicting_the_manifest(native_pkg, tmp_path):
    lib = bytearray(dict(read_members(native_pkg))[payload_name(read_members(native_pkg))])
    struct.pack_into("<H", lib, 18, 183)  # e_machine = EM_AARCH64
    bad = _with_library(native_pkg, tmp_path / "machine.cloacina", bytes(lib))
    report = validate_package(bad)
    messages = [f.message for f in report.errors if f.code == "native-mismatch"]
    assert any(m.startswith("the library's machine is 'EM_AARCH64'") for m in messages)
    assert any(m.startswith("the library's arch is 'aarch64'") for m in messages)

    def agree(m):  # the manifest tells the truth about the (foreign) binary
        m["native"].update(machine="EM_AARCH64", arch="aarch64",
                           target="aarch64-unknown-linux-gnu")
        m["payload"]["tags"] = ["aarch64-unknown-linux-gnu"]
    foreign = _with_library(native_pkg, tmp_path / "foreign.cloacina", bytes(lib), agree)
    report = validate_package(foreign)
    assert report.ok, [f.render() for f in report.findings]
    assert [f.code for f in report.warnings] == ["host-native"]
    assert "built for aarch64" in report.warnings[0].message


@needs_cargo
def test_truncated_library(native_pkg, tmp_path):
    lib = dict(read_members(native_pkg))[payload_name(read_members(native_pkg))]
    report = validate_package(_with_library(native_pkg, tmp_path / "t.cloacina",
                                            lib[: len(lib) // 3]))
    assert [f.code for f in report.errors] == ["native-corrupt"]


@needs_cargo
def test_non_elf_file_named_so(native_pkg, tmp_path):
    report = validate_package(_with_library(native_pkg, tmp_path / "n.cloacina",
                                            b"#!/bin/sh\necho not a library\n"))
    assert [f.code for f in report.errors] == ["native-not-elf"]
    proc = subprocess.run([EXE, "validate", str(tmp_path / "n.cloacina")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_a_crate_without_cdylib_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    (tmp_path / "src" / "lib.rs").write_text("")
    with pytest.raises(ProjectError) as info:
        build_package(tmp_path)
    assert "config-crate-type" in [f.code for f in info.value.findings]


# ------------------------------------------------------------------ Rust source reading

LIB = '''
use cloacina_workflow::{task, workflow, Context, TaskError};

#[workflow(name = "etl", package = "etl-crate")]
pub mod etl {
    use super::*;

    /// Extract.
    #[task(id = "extract", dependencies = [], retry_attempts = 3, retry_backoff = "Linear")]
    pub async fn extract(ctx: &mut Context<serde_json::Value>) -> Result<(), TaskError> {
        ctx.insert("n", serde_json::json!(1))?; // one
        Ok(())
    }

    #[task(id = "load", dependencies = ["extract"])]
    pub fn load(ctx: &mut Context<serde_json::Value>) -> Result<(), TaskError> {
        let s = r#"a "raw" string"#; let c = 'x'; let l: &'static str = "y";
        Ok(())
    }
}
'''


def _discover(tmp_path, text):
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "lib.rs").write_text(text)
    return discover_crate(tmp_path / "src", tmp_path)


def test_rust_tasks_are_read_from_source(tmp_path):
    found = _discover(tmp_path, LIB)
    assert found.findings == [] and (found.workflow, found.module) == ("etl", "etl")
    extract, load = found.tasks
    assert extract.retry.to_dict() == {"attempts": 3, "backoff": "linear"}
    assert extract.is_async is True and load.is_async is False
    assert load.dependencies == ("extract",) and load.function == "etl:load"
    assert extract.source.to_dict() == {"file": "src/lib.rs", "line": 9}


def test_rust_fingerprints_ignore_comments_and_formatting(tmp_path):
    base = {t.id: t.fingerprint for t in _discover(tmp_path / "a", LIB).tasks}
    reformatted = LIB.replace("// one", "/* a /* nested */ comment */") \
        .replace("/// Extract.", "/// Extract everything.\n    // more") \
        .replace("Ok(())", "Ok(\n            ()\n        )")
    same = {t.id: t.fingerprint for t in _discover(tmp_path / "b", reformatted).tasks}
    assert same == base
    changed = {t.id: t.fingerprint for t in _discover(
        tmp_path / "c", LIB.replace("json!(1)", "json!(2)")).tasks}
    assert changed["extract"] != base["extract"] and changed["load"] == base["load"]
    golden = fingerprint_tokens(tokenize('#[task(id = "t")] pub fn t() {}'))
    assert golden == "6f5af2048ea41233059dc0886df84cebce580a537e2697d53da498fe10e4225b"


@pytest.mark.parametrize("text, code", [
    (LIB.replace("retry_attempts = 3", "retries = 3"), "task-argument"),
    (LIB.replace('#[workflow(name = "etl", package = "etl-crate")]', ""), "workflow-missing"),
    (LIB.replace('"extract", dependencies = []', '"extract", dependencies = [N]'),
     "task-argument"),
    (LIB + "\n/* unterminated", "source-syntax"),
])
def test_rust_source_problems(tmp_path, text, code):
    assert code in [f.code for f in _discover(tmp_path, text).findings]


def _verneed_loop(lib: bytes, next_offset: int) -> bytes:
    """``lib`` with its version-requirement chain made endless: the section claims two
    billion entries (sh_info) and the first entry's vn_next is ``next_offset`` (0 makes it
    point at itself)."""
    from io import BytesIO

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(BytesIO(lib))
    index, section = next((i, s) for i, s in enumerate(elf.iter_sections())
                          if s["sh_type"] == "SHT_GNU_verneed")
    out = bytearray(lib)
    header = elf["e_shoff"] + index * elf["e_shentsize"]
    struct.pack_into("<I", out, header + 44, 0x7FFFFFFF)      # Elf64_Shdr.sh_info
    struct.pack_into("<I", out, section["sh_offset"] + 12, next_offset)  # Verneed.vn_next
    return bytes(out)


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
@pytest.mark.parametrize("next_offset", [0])
def test_a_version_requirement_chain_that_loops_is_refused(tmp_path, next_offset):
    """A .gnu.version_r whose entries point back into the chain would be read forever;
    no more entries are read than the section's bytes can hold."""
    src = tmp_path / "v.c"
    src.write_text('#include <stdio.h>\nint cloacina_v(void) { return puts("x"); }\n')
    lib = tmp_path / "libv.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    assert describe_library(lib)["glibc_floor"]  # the real library has a glibc floor
    bad = tmp_path / "libloop.so"
    bad.write_bytes(_verneed_loop(lib.read_bytes(), next_offset))
    with pytest.raises(PackageError) as err:
        describe_library(bad)
    assert err.value.code == "native-corrupt"
    assert "more entries than its" in str(err.value)
