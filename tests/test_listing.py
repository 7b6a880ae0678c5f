"""``ls``: a package's members and its payload's files, of real packages of both formats,
checked against independent readers (tarfile, zipfile, hashlib) of the same bytes."""

from __future__ import annotations

import base64
import bz2
import functools
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.build.builder import build_package
from cloacina_build.format.limits import KiB, Limits, MiB
from cloacina_build.format.wheel_index import (
    Needed,
    OutsideWindow,
    Tail,
    WheelIndex,
    capture,
    read_index,
)
from cloacina_build.ops.listing import (
    CLOACINA,
    ENGINE,
    NO_HASH,
    NOT_IN_RECORD,
    NOT_IN_WHEEL,
    SIZE_DIFFERS,
    PayloadFile,
    list_package,
    wheel_files,
)

from .conftest import EXAMPLES
from .hostile import (
    edit_wheel,
    get,
    make_wheel,
    payload_name,
    read_members,
    replace,
    wheel_entries,
    write_members,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record_of(wheel: bytes) -> dict[str, tuple[int | None, str | None]]:
    """RECORD read by hand from the wheel with zipfile: path -> (size, hex sha256)."""
    zf = zipfile.ZipFile(io.BytesIO(wheel))
    record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    out: dict[str, tuple[int | None, str | None]] = {}
    for line in zf.read(record).decode().splitlines():
        path, digest, size = line.rsplit(",", 2)
        hexdigest = None
        if digest:
            value = digest.split("=", 1)[1]
            hexdigest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
        out[path] = (int(size) if size else None, hexdigest)
    return out


def test_members_are_the_archives_members_with_their_own_digests(built_pipeline):
    listing = list_package(built_pipeline)
    assert listing.format == CLOACINA and listing.ok and listing.complete
    members = read_members(built_pipeline)
    assert [(m.path, m.size, m.sha256) for m in listing.members] == \
        [(name, len(data), _sha(data)) for name, data in members]
    assert listing.payload is not None and listing.payload.kind == "wheel"


def test_wheel_files_are_records_lines_and_match_zipfile(built_pipeline):
    listing = list_package(built_pipeline)
    wheel = get(read_members(built_pipeline), payload_name(read_members(built_pipeline)))
    zf = zipfile.ZipFile(io.BytesIO(wheel))
    record = _record_of(wheel)
    assert [f.path for f in listing.payload_files] == sorted(zf.namelist())
    for f in listing.payload_files:
        assert (f.size, f.sha256) == record[f.path]
        assert f.zip_size == zf.getinfo(f.path).file_size
        if f.sha256 is not None:  # RECORD's hash is the file's (an independent check)
            assert f.sha256 == _sha(zf.read(f.path)) and f.note is None
    (unhashed,) = [f for f in listing.payload_files if f.sha256 is None]
    assert unhashed.path == listing.record and unhashed.note == NO_HASH
    assert isinstance(listing.payload_files[0], PayloadFile)


def test_engine_archive_members_and_source_files(tmp_path):
    out = tmp_path / "dp.cloacina"
    build_package(EXAMPLES / "data-pipeline", out, format="engine")
    listing = list_package(out)
    assert listing.format == ENGINE and listing.ok and listing.root == "data-pipeline-1.0.0"
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(out.read_bytes()))) as tf:
        files = {info.name: tf.extractfile(info).read() for info in tf if info.isfile()}
    prefix = "data-pipeline-1.0.0/"
    assert {(m.path, m.size, m.sha256) for m in listing.members if m.type == "file"} == \
        {(name[len(prefix):], len(data), _sha(data)) for name, data in files.items()}
    assert [f.path for f in listing.payload_files] == sorted(
        name[len(prefix):] for name in files
        if not name[len(prefix):].startswith((".cloacina-build/", "package.toml")))
    assert listing.payload is not None
    assert sum(f.size or 0 for f in listing.payload_files) == listing.payload.size


def test_an_engine_archive_whose_build_manifest_describes_a_wheel_shows_its_source(
        tmp_path, built_pipeline):
    """ls and describe (diff, graph) take an engine archive's payload from one place
    (ops.engine.engine_payload): the build manifest's only when it describes the source,
    else the source's own digest, never a wheel the archive does not hold."""
    from cloacina_build.format.engine import open_engine
    from cloacina_build.ops.describe import describe_path
    from cloacina_build.ops.engine import source_payload

    from . import engine_tools as et

    built = tmp_path / "dp.cloacina"
    build_package(EXAMPLES / "data-pipeline", built, format="engine")
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(built.read_bytes()))) as tf:
        files = {i.name: tf.extractfile(i).read() for i in tf if i.isfile()}
    prefix = "data-pipeline-1.0.0/"
    own = list_package(built).payload
    assert own is not None and describe_path(built).payload == own
    wheel_manifest = dict(read_members(built_pipeline))["manifest.json"]
    files[f"{prefix}.cloacina-build/manifest.json"] = wheel_manifest
    odd = tmp_path / "odd.cloacina"
    odd.write_bytes(et.engine_archive([et.entry(n, d) for n, d in files.items()]))
    listed_payload = list_package(odd).payload
    described = describe_path(odd)
    assert listed_payload is not None and listed_payload.kind == "source"
    assert listed_payload == described.payload == source_payload(open_engine(odd))
    assert described.build is None  # no build facts from a manifest of another payload
    assert listed_payload.sha256 == own.sha256  # the same source files


# ---------------------------------------------------------------- the wheel's index


def _wheel_package(built_pipeline, tmp_path, edit, name="edited.cloacina"):
    """The pipeline package with its wheel rebuilt by ``edit(entries) -> entries`` (RECORD
    fixed to match), the manifest's digests fixed: the wheel is the only change."""
    members = edit_wheel(read_members(built_pipeline), edit)
    return write_members(tmp_path / name, members)


def _record_first(entries):
    """RECORD first in the zip, then a 64 KiB incompressible file: RECORD far from the end."""
    record = [e for e in entries if e[0].filename.endswith("/RECORD")]
    rest = [e for e in entries if not e[0].filename.endswith("/RECORD")]
    big = zipfile.ZipInfo("data_pipeline/blob.bin", (1980, 1, 1, 0, 0, 0))
    return record + rest + [(big, random.Random(7).randbytes(64 * 1024))]


def test_record_before_the_kept_tail_is_fetched_by_a_second_pass(built_pipeline, tmp_path,
                                                                 monkeypatch):
    from cloacina_build.ops import listing as module

    pkg = _wheel_package(built_pipeline, tmp_path, _record_first)
    fetched_ranges = []
    fetch = module._fetch
    monkeypatch.setattr(module, "_fetch", lambda *a: fetched_ranges.append(a[2]) or fetch(*a))
    whole = list_package(pkg)  # the default 16 MiB tail holds the whole wheel
    assert fetched_ranges == []
    small = Limits(max_wheel_index=4 * KiB)  # holds the directory, not RECORD
    wheel = get(read_members(pkg), payload_name(read_members(pkg)))
    zf = zipfile.ZipFile(io.BytesIO(wheel))
    record_at = zf.getinfo("data_pipeline-1.0.0.dist-info/RECORD").header_offset
    assert len(wheel) - record_at > small.max_wheel_index  # outside the tail indeed
    fetched = list_package(pkg, small)
    assert [r.start for r in fetched_ranges] == [record_at]
    assert fetched.ok and whole.ok
    assert fetched.payload_files == whole.payload_files
    assert "data_pipeline/blob.bin" in {f.path for f in fetched.payload_files}


def test_a_central_directory_larger_than_the_tail_is_a_finding(built_pipeline):
    listing = list_package(built_pipeline, Limits(max_wheel_index=64))
    assert not listing.complete and not listing.ok and not listing.payload_files
    assert [f.code for f in listing.findings] == ["wheel-limit-index"]
    assert len(listing.members) == 3  # the members are still listed


def test_a_record_that_inflates_past_the_bound_is_refused(built_pipeline, tmp_path):
    def bomb(entries):
        return [(i, b"a" * (20 * MiB) if i.filename.endswith("/RECORD") else d)
                for i, d in entries]

    members = read_members(built_pipeline)
    name = payload_name(members)
    wheel = make_wheel(bomb(wheel_entries(get(members, name))), fix_record=False)
    pkg = write_members(tmp_path / "bomb.cloacina", replace(members, name, wheel), fix=True)
    listing = list_package(pkg)
    assert "wheel-limit-dist-info" in [f.code for f in listing.findings]
    assert not listing.complete


def test_an_end_record_declaring_too_many_entries_is_refused_before_parsing(
        built_pipeline, tmp_path):
    members = read_members(built_pipeline)
    name = payload_name(members)
    wheel = bytearray(get(members, name))
    end = wheel.rfind(b"PK\x05\x06")
    wheel[end + 8:end + 12] = b"\xff\xff\xff\xff"  # entries on this disk, and in total
    pkg = write_members(tmp_path / "many.cloacina", replace(members, name, bytes(wheel)),
                        fix=True)
    listing = list_package(pkg)
    assert [f.code for f in listing.findings] == ["wheel-limit-entries"]
    assert "65535" in listing.findings[0].message


RECORD = "data_pipeline-1.0.0.dist-info/RECORD"


@pytest.mark.parametrize("text, code", [
    (b"\xff\xfe not utf-8\n", "wheel-record"),
    (b"data_pipeline/tasks.py,sha256=x\n", "wheel-record"),              # two columns
    (b"data_pipeline/tasks.py,md99=abc,12\n", "wheel-record"),           # unknown hash
    (b"data_pipeline/tasks.py,sha256=abc,twelve\n", "wheel-record"),     # size not a number
    (b'"unterminated,,\n', "wheel-record"),
])
def test_a_malformed_record_is_a_finding(text, code, built_pipeline, tmp_path):
    def set_record(entries):
        return [(i, text if i.filename == RECORD else d) for i, d in entries]

    members = read_members(built_pipeline)
    name = payload_name(members)
    wheel = make_wheel(set_record(wheel_entries(get(members, name))), fix_record=False)
    pkg = write_members(tmp_path / "rec.cloacina", replace(members, name, wheel), fix=True)
    listing = list_package(pkg)
    assert code in [f.code for f in listing.findings], listing.findings
    assert not listing.ok
    json.dumps(listing.to_dict())


def test_a_hash_other_than_sha256_is_kept_but_has_no_sha256(built_pipeline, tmp_path):
    def sha384(entries):
        out = []
        for i, d in entries:
            if i.filename == RECORD:
                digest = base64.urlsafe_b64encode(hashlib.sha384(b"x").digest()).decode()
                d = f"data_pipeline/tasks.py,sha384={digest.rstrip('=')},1216\n".encode()
            out.append((i, d))
        return out

    members = read_members(built_pipeline)
    name = payload_name(members)
    wheel = make_wheel(sha384(wheel_entries(get(members, name))), fix_record=False)
    pkg = write_members(tmp_path / "sha384.cloacina", replace(members, name, wheel), fix=True)
    files = {f.path: f for f in list_package(pkg).payload_files}
    assert files["data_pipeline/tasks.py"].sha256 is None
    assert files["data_pipeline/tasks.py"].size == 1216
    assert files["data_pipeline/__init__.py"].note == NOT_IN_RECORD


def test_record_and_the_zip_disagreeing_is_marked_and_fails(built_pipeline, tmp_path):
    def extra(entries):
        return entries + [(zipfile.ZipInfo("data_pipeline/extra.py"), b"x = 1\n")]

    members = read_members(built_pipeline)
    name = payload_name(members)
    wheel = make_wheel(extra(wheel_entries(get(members, name))), fix_record=False)
    pkg = write_members(tmp_path / "extra.cloacina", replace(members, name, wheel), fix=True)
    listing = list_package(pkg)
    files = {f.path: f for f in listing.payload_files}
    assert files["data_pipeline/extra.py"].note == NOT_IN_RECORD
    assert (files["data_pipeline/extra.py"].size, files["data_pipeline/extra.py"].sha256) == \
        (6, None)
    assert [f.code for f in listing.findings] == ["wheel-record"] and listing.complete


def test_a_file_of_another_size_or_gone_from_the_zip_is_marked_and_fails(built_pipeline,
                                                                        tmp_path):
    """RECORD's rows kept as they were while the zip changed: a file rewritten with
    another size keeps RECORD's size and sha256 with the zip's size beside them, a file
    RECORD lists that the zip lacks is marked, and the listing says they disagree."""
    def edit(entries):
        out = []
        for info, data in entries:
            if info.filename == "data_pipeline/__init__.py":
                out.append((info, data + b"# longer\n"))
            elif not info.filename.endswith("/WHEEL"):
                out.append((info, data))
        return out

    members = read_members(built_pipeline)
    name = payload_name(members)
    record = _record_of(get(members, name))
    wheel = make_wheel(edit(wheel_entries(get(members, name))), fix_record=False)
    pkg = write_members(tmp_path / "sizes.cloacina", replace(members, name, wheel), fix=True)
    listing = list_package(pkg)
    files = {f.path: f for f in listing.payload_files}
    init = files["data_pipeline/__init__.py"]
    assert init.note == SIZE_DIFFERS and (init.size, init.sha256) == \
        record["data_pipeline/__init__.py"] and init.zip_size == init.size + 9
    (gone,) = [f for f in listing.payload_files if f.path.endswith("/WHEEL")]
    assert gone.note == NOT_IN_WHEEL and gone.zip_size is None
    (finding,) = listing.findings
    assert finding.code == "wheel-record" and "disagree on 2 file(s)" in finding.message
    assert not listing.ok and listing.complete
    text = _ls(str(pkg), tmp=tmp_path / "tmp")
    assert text.returncode == 1
    assert f"(RECORD's size differs from the zip's {init.zip_size})" in text.stdout
    assert "(not in the wheel)" in text.stdout


# ---------------------------------------------------------------- windows, by hypothesis


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), keep=st.integers(0, 5000),
       cuts=st.lists(st.integers(1, 700), max_size=20), lo=st.integers(0, 4096),
       span=st.integers(0, 4096))
def test_tail_window_and_capture_agree_with_slicing(data, keep, cuts, lo, span):
    chunks, pos = [], 0
    for cut in cuts + [len(data)]:
        chunks.append(data[pos:pos + cut])
        pos += cut
    chunks.append(data[pos:])
    tail = Tail(keep)
    for chunk in chunks:
        tail.feed(chunk)
    window = tail.window()
    start = max(len(data) - keep, 0)
    assert window.size == len(data)
    window.seek(start)
    assert window.read() == data[start:]
    if start > 0:
        window.seek(start - 1)
        with pytest.raises(OutsideWindow):
            window.read(1)
    hi = min(lo + span, len(data))
    assert capture(iter(chunks), lo, hi) == data[lo:hi]


@functools.lru_cache(maxsize=1)
def _pipeline_wheel() -> bytes:
    """The data-pipeline wheel, built once (hypothesis cannot use a session fixture)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.cloacina"
        build_package(EXAMPLES / "data-pipeline", out)
        members = read_members(out)
        return get(members, payload_name(members))


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), min_size=1,
                      max_size=8),
       keep=st.sampled_from([64, 512, 1024, 1 << 20]), cut=st.integers(0, 64))
def test_read_index_is_total_on_damaged_wheels(flips, keep, cut):
    """Any damage to a wheel, seen through any window: an index with findings, or the
    range RECORD needs; never an exception, never a file listed twice."""
    wheel = bytearray(_pipeline_wheel())
    for at, xor in flips:
        wheel[at % len(wheel)] ^= xor
    data = bytes(wheel[:len(wheel) - cut])
    tail = Tail(keep)
    tail.feed(data)
    found = read_index(tail.window(), Limits(max_wheel_index=keep), "payload")
    if isinstance(found, Needed):
        assert 0 <= found.start < found.end <= len(data) + (1 << 16)
        found = read_index(tail.window().with_piece(found.start,
                                                    data[found.start:found.end]),
                           Limits(max_wheel_index=keep), "payload")
    if isinstance(found, WheelIndex):
        files = wheel_files(found)
        assert len({f.path for f in files}) == len(files)
        json.dumps([f.to_dict() for f in files])


# ---------------------------------------------------------------- signatures, engine, native


def test_signed_packages_list_their_signature_records(built_pipeline, tmp_path):
    from cloacina_build.ops.signing import sign_package

    from .keyring import key, make_keyring

    keys = make_keyring(tmp_path / "keys")
    zstd_pkg = tmp_path / "signed.cloacina"
    zstd_pkg.write_bytes(built_pipeline.read_bytes())
    sign_package(zstd_pkg, key(keys, "alice"))
    engine_pkg = tmp_path / "signed-engine.cloacina"
    build_package(EXAMPLES / "data-pipeline", engine_pkg, format="engine",
                  sign_key=key(keys, "bob"))
    members = read_members(zstd_pkg)
    listing = list_package(zstd_pkg)
    assert listing.ok
    assert [(m.path, m.sha256) for m in listing.members] == \
        [(n, _sha(d)) for n, d in members]
    assert listing.members[-1].path.startswith("signatures/")
    assert [m.type for m in listing.members] == ["file"] * 3 + ["signature"]
    engine = list_package(engine_pkg)
    assert engine.ok and engine.members[-1].type == "signature"
    assert engine.members[-1].path.startswith("signatures/")


def test_an_engine_archive_with_directory_entries(tmp_path):
    from . import engine_tools as et

    data = et.gnu_tar(et.project_files(), "etl-demo-1.0.0", tmp_path)
    if data is None:
        pytest.skip("GNU tar or bzip2 is not installed")
    path = tmp_path / "gnu.cloacina"
    path.write_bytes(data)
    listing = list_package(path)
    assert listing.ok and listing.root == "etl-demo-1.0.0"
    dirs = [m.path for m in listing.members if m.type == "dir"]
    assert "." in dirs and "workflow" in dirs
    assert [f.path for f in listing.payload_files] == [
        "workflow/etl_demo/__init__.py", "workflow/etl_demo/tasks.py"]
    assert listing.payload is not None and listing.payload.kind == "source"


@pytest.mark.parametrize("damage", ["truncated", "symlink", "not-bzip2-after-magic"])
def test_a_damaged_engine_archive_lists_what_was_read(damage, tmp_path):
    from . import engine_tools as et

    files = et.project_files()
    entries = et.files_entries(files, "etl-demo-1.0.0")
    if damage == "symlink":
        entries.insert(1, et.entry("etl-demo-1.0.0/link", kind=tarfile.SYMTYPE,
                                   link="/etc/passwd"))
    data = et.engine_archive(entries)
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "not-bzip2-after-magic":
        data = b"BZh9" + b"\x00" * 200
    path = tmp_path / "damaged.cloacina"
    path.write_bytes(data)
    listing = list_package(path)
    assert listing.format == ENGINE and not listing.ok and not listing.complete
    assert listing.findings and all(f.is_error for f in listing.findings)
    json.dumps(listing.to_dict())


@pytest.fixture(scope="module")
def native_pkg(tmp_path_factory):
    import shutil

    from cloacina_build.project.scaffold import create_project

    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed on this machine")
    crate = create_project("rusty-flow", template="rust",
                           path=tmp_path_factory.mktemp("rust") / "rusty-flow")
    out = tmp_path_factory.mktemp("out") / "rusty.cloacina"
    build_package(crate, out)
    return crate, out


def test_a_native_payload_is_its_library_with_the_elf_facts(native_pkg):
    from cloacina_build.format.package import open_package

    crate, pkg = native_pkg
    library = (crate / "target" / "release" / "librusty_flow.so").read_bytes()
    listing = list_package(pkg)
    assert listing.ok and listing.record is None
    assert [(f.path, f.size, f.sha256, f.note) for f in listing.payload_files] == \
        [("librusty_flow.so", len(library), _sha(library), None)]
    assert listing.native == open_package(pkg).manifest.native
    assert listing.to_dict()["native"]["exported_symbols"] == ["cloacina_workflow_metadata"]
    assert listing.members[-1].sha256 == _sha(library)


# ---------------------------------------------------------------- the command


EXE = str(Path(sys.executable).with_name("cloacinactl"))


def _ls(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    """A real ``cloacinactl ls`` with its own empty TMPDIR."""
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.run([EXE, "ls", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_text_has_two_sections_with_totals_and_writes_nothing(built_pipeline, tmp_path):
    proc = _ls(str(built_pipeline), tmp=tmp_path / "tmp")
    assert proc.returncode == 0 and proc.stderr == ""
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing extracted, nothing spooled
    listing = list_package(built_pipeline)
    lines = proc.stdout.splitlines()
    assert lines[2] == "members (cloacina package)"
    assert "payload files (from data_pipeline-1.0.0.dist-info/RECORD)" in lines
    assert f"  3 members, {sum(m.size for m in listing.members)} bytes" in lines
    assert f"  5 files, {listing.totals()['payload_bytes']} bytes" in lines
    for f in listing.payload_files:
        row = [line for line in lines if line.endswith(f.path) or f"{f.path}  (" in line]
        assert len(row) == 1 and row[0].split()[0] == str(f.shown_size)
        assert row[0].split()[1] == (f.sha256 or "-")[:12]
    verbose = _ls("-v", str(built_pipeline), tmp=tmp_path / "tmp").stdout
    assert all(f.sha256 in verbose for f in listing.payload_files if f.sha256)


def test_cli_json_is_the_listing(built_pipeline, tmp_path):
    proc = _ls(str(built_pipeline), "--json", tmp=tmp_path / "tmp")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data == json.loads(json.dumps(list_package(built_pipeline).to_dict()))
    assert set(data) == {"ok", "path", "format", "complete", "root", "record", "payload",
                         "native", "members", "payload_files", "totals", "findings"}
    assert set(data["members"][0]) == {"path", "size", "sha256", "type"}
    assert set(data["payload_files"][0]) == {"path", "size", "sha256", "note", "zip_size"}
    assert data["totals"]["payload_files"] == len(data["payload_files"])


def test_cli_engine_archive_and_errors(tmp_path):
    fixture = EXAMPLES.parent / "tests" / "fixtures" / "engine" / "python-workflow.cloacina"
    proc = _ls(str(fixture), tmp=tmp_path / "tmp")
    assert proc.returncode == 0
    assert "members (under test-fixture-python-1.0.0/)" in proc.stdout
    assert "payload files (the source)" in proc.stdout
    missing = _ls(str(tmp_path / "nope.cloacina"), tmp=tmp_path / "tmp")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no such file")
    junk = tmp_path / "junk.cloacina"
    junk.write_bytes(b"not a package")
    bad = _ls(str(junk), "--json", tmp=tmp_path / "tmp")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"]["code"] == "archive-not-zstd"


def test_cli_an_incomplete_listing_exits_1_after_what_was_read(built_pipeline, tmp_path):
    cut = tmp_path / "cut.cloacina"
    write_members(cut, read_members(built_pipeline), end=b"")  # no end-of-archive marker
    proc = _ls(str(cut), tmp=tmp_path / "tmp")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error[archive-truncated]" in proc.stderr
    assert "payload/data_pipeline-1.0.0-py3-none-any.whl" in proc.stdout


def test_cli_names_from_the_package_are_made_printable(built_pipeline, tmp_path):
    def escape(entries):
        return entries + [(zipfile.ZipInfo("data_pipeline/\x1b[2Jevil.py"), b"x = 1\n")]

    pkg = _wheel_package(built_pipeline, tmp_path, escape)
    proc = _ls(str(pkg), tmp=tmp_path / "tmp")
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "data_pipeline/\\x1b[2Jevil.py" in proc.stdout
    assert proc.returncode == 1  # the wheel's name rules: a control character


def test_cli_a_truncated_engine_archive_is_called_one_and_its_findings_are_coloured(
        tmp_path):
    """What was read of an engine archive cut short (as 'head -c' leaves it): named an
    engine archive, as every other listing of one is; the findings on standard error are
    coloured at a terminal like every other command's."""
    from .tty import run

    whole = build_package(EXAMPLES / "data-pipeline", tmp_path / "e.cloacina",
                          format="engine").path
    cut = tmp_path / "cut.cloacina"
    cut.write_bytes(whole.read_bytes()[:1000])
    ran = run(["ls", str(cut)])
    assert ran.code == 1
    assert "engine package" not in ran.out, ran.out
    assert "(engine archive, payload unknown)" in ran.out
    assert "\nmembers (engine archive)\n" in ran.out
    assert "\x1b[31m\x1b[1merror[engine-bzip2-truncated]\x1b[0m " in ran.err, ran.err
    piped = run(["ls", str(cut)], out_tty=False, err_tty=False)
    assert piped.err.startswith("error[engine-bzip2-truncated] ") and "\x1b" not in piped.err
