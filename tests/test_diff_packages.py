"""``diff`` between real packages built by the real tool: both formats, a package against
an engine archive of the same project, a package against a project directory, build facts,
signatures, and the promise that only the heads are read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cloacina_build.build.builder import build_package
from cloacina_build.errors import UsageError
from cloacina_build.format.frames import walk_frames
from cloacina_build.ops.diff import diff_paths
from cloacina_build.ops.signing import sign_package
from cloacina_build.ops.validate import validate_package

from .keyring import key, make_keyring
from .test_diff import DP_TASKS, copy, edit


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """data-pipeline 1.0.0 and an edited 1.1.0 (a body changed, a task added), each as a
    package and as an engine archive, built outside any git checkout."""
    root = tmp_path_factory.mktemp("diffpkg")
    old, new = copy("data-pipeline", root / "old"), copy("data-pipeline", root / "new")
    edit(new, "package.toml", 'version = "1.0.0"', 'version = "1.1.0"')
    edit(new, DP_TASKS, '"records": 1000', '"records": 2000')
    (new / DP_TASKS).write_text((new / DP_TASKS).read_text() + ARCHIVE)
    out = {"old-dir": old, "new-dir": new}
    for name, project in (("old", old), ("new", new)):
        out[name] = build_package(project, root / f"{name}.cloacina").path
        out[f"{name}-engine"] = build_package(project, root / f"{name}-engine.cloacina",
                                              format="engine").path
    return out


ARCHIVE = '''

@cloaca.task(id="archive", dependencies=["generate_report"])
def archive(context):
    """Keep the report."""
    return context
'''


def test_package_against_package(built):
    d = diff_paths(built["old"], built["new"])
    assert [t.id for t in d.tasks.added] == ["archive"]
    assert [c.id for c in d.tasks.changed] == ["collect_data"]
    assert d.edges.added == (("generate_report", "archive"),)
    assert [(c.field, c.new) for c in d.package] == [("version", "1.1.0")]
    assert {c.field for c in d.payload.changes} >= {"filename", "sha256"}
    assert d.differs_in == ["tasks", "edges", "workflow", "package", "payload"]
    assert d.summary().endswith("metadata: version; payload differs (build facts differ: "
                                "digest, file_size)")


def test_engine_archive_against_engine_archive(built):
    d = diff_paths(built["old-engine"], built["new-engine"])
    assert (d.old.kind, d.new.kind) == ("engine", "engine")
    assert [t.id for t in d.tasks.added] == ["archive"]
    assert d.payload.compared and "sha256" in {c.field for c in d.payload.changes}
    assert "payload" in d.differs_in


def test_a_package_and_an_engine_archive_of_the_same_project(built):
    d = diff_paths(built["old"], built["old-engine"])
    assert not d.differs, d.to_dict()
    assert d.payload.compared is False
    assert any("wheel payload and a source payload" in n for n in d.notes)
    assert {c.field: c.new for c in d.build}["format"] == "engine"
    mixed = diff_paths(built["old"], built["new-engine"])
    assert mixed.differs_in == ["tasks", "edges", "workflow", "package"]


def test_an_engine_archive_has_the_digest_package_printed(tmp_path):
    """An engine archive this tool wrote has a digest (the sha256 of its build manifest,
    what a signature covers): describe and diff show the one 'package' printed, not '-'."""
    from cloacina_build.ops.describe import describe_path

    project = copy("data-pipeline", tmp_path / "dp")
    result = build_package(project, tmp_path / "e.cloacina", format="engine")
    assert describe_path(result.path).digest == result.digest
    zstd = build_package(project, tmp_path / "z.cloacina")
    digest = {c.field: (c.old, c.new) for c in diff_paths(zstd.path, result.path).build}
    assert digest["digest"] == (zstd.digest, result.digest)


def test_a_package_against_its_project_and_another(built):
    assert not diff_paths(built["old"], built["old-dir"]).differs
    assert not diff_paths(built["new-dir"], built["new-engine"]).differs
    d = diff_paths(built["old"], built["new-dir"])
    assert [t.id for t in d.tasks.added] == ["archive"]
    assert d.signatures is None and d.build == ()


def test_build_facts_are_shown_but_do_not_count(built, built_pipeline):
    """The same project built from a git checkout and from a copy outside it: the wheel
    is the same, only the provenance and hence the digest differ."""
    d = diff_paths(built_pipeline, built["old"])
    assert not d.differs
    fields = [c.field for c in d.build]
    assert "source_revision" in fields and "digest" in fields
    assert d.summary().startswith("no differences (build facts differ: source_revision")


def test_signatures_added_and_removed(built, tmp_path):
    ring = make_keyring(tmp_path / "keys")
    alice, bob = tmp_path / "alice.cloacina", tmp_path / "bob.cloacina"
    shutil.copyfile(built["old"], alice)
    shutil.copyfile(built["old"], bob)
    sign_package(alice, key(ring, "alice"))
    sign_package(bob, key(ring, "bob"))
    d = diff_paths(built["old"], alice)
    assert d.differs_in == ["signatures"]
    assert [(s["signer"], s["key_id"]) for s in d.signatures.added] == \
        [("alice", ring["alice"][2])]
    d = diff_paths(alice, bob)
    assert [s["signer"] for s in d.signatures.added] == ["bob"]
    assert [s["signer"] for s in d.signatures.removed] == ["alice"]
    assert d.summary().startswith("1 signature added, 1 removed")


def test_a_signature_is_its_key_and_where_it_is_kept(built, tmp_path):
    """One key's signature embedded in one package and detached (FILE.sig) beside the
    other is a signature removed and one added; a malformed record, which names no key,
    is told apart by its member."""
    from cloacina_build.format.archive import write_trailer
    from cloacina_build.format.package import open_package
    from cloacina_build.ops.signing import sign_detached

    ring = make_keyring(tmp_path / "keys")
    embedded, detached = tmp_path / "e.cloacina", tmp_path / "d" / "d.cloacina"
    detached.parent.mkdir()
    for path in (embedded, detached):
        shutil.copyfile(built["old"], path)
    sign_package(embedded, key(ring, "alice"))
    sign_detached(detached, key(ring, "alice"))
    d = diff_paths(embedded, detached)
    assert [(s["key_id"], s.get("detached")) for s in d.signatures.added] == \
        [(ring["alice"][2], True)]
    assert [(s["key_id"], s.get("detached")) for s in d.signatures.removed] == \
        [(ring["alice"][2], None)]

    def malformed(name: str) -> Path:
        out = tmp_path / f"{name}.cloacina"
        shutil.copyfile(built["old"], out)
        prefix = out.read_bytes()[:open_package(out).frames[-1].offset]
        with open(out, "wb") as fh:
            fh.write(prefix)
            write_trailer(fh, [(f"signatures/{name}.json", b"not a record")], 315532800)
        return out

    d = diff_paths(malformed("one"), malformed("two"))
    assert [s["member"] for s in d.signatures.added] == ["signatures/two.json"]
    assert [s["member"] for s in d.signatures.removed] == ["signatures/one.json"]


def damage_payload(package: Path, out: Path) -> Path:
    """A copy of ``package`` with 16 bytes inside its payload frame flipped, its head
    and the frame headers intact."""
    data = bytearray(package.read_bytes())
    with open(package, "rb") as fh:
        payload = walk_frames(fh, len(data))[1]
    middle = payload.offset + payload.length // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    out.write_bytes(bytes(data))
    return out


def test_only_the_heads_are_read(built, tmp_path):
    """A package whose payload frame is damaged (its head intact) fails validation, yet
    diffs like the intact one: diff never reads past the head."""
    damaged = damage_payload(built["new"], tmp_path / "damaged.cloacina")
    assert not validate_package(damaged).ok
    assert diff_paths(built["old"], damaged).to_dict()["tasks"] == \
        diff_paths(built["old"], built["new"]).to_dict()["tasks"]


# ------------------------------------------------------------------ --payload


def test_payload_files_of_two_packages(built):
    d = diff_paths(built["old"], built["new"], payload=True)
    files = d.files
    assert files is not None and files.basis == "paths"
    # the .dist-info directory is named for the version: its files are matched whatever
    # the name, so the new METADATA is a change, WHEEL the same file (and RECORD, which
    # RECORD lists without a hash, is compared by its size: the same)
    assert [(a.path, b.path) for a, b in files.changed] == [
        ("data_pipeline-1.0.0.dist-info/METADATA", "data_pipeline-1.1.0.dist-info/METADATA"),
        ("data_pipeline/tasks.py", "data_pipeline/tasks.py")]
    old, new = files.changed[1]
    assert old.sha256 != new.sha256 and new.shown_size > old.shown_size
    assert not (files.added or files.removed) and files.unchanged == 3
    assert "files" in d.differs_in
    assert "2 payload files changed" in d.summary()
    assert diff_paths(built["old"], built["new"]).files is None


def test_payload_files_across_formats(built):
    same = diff_paths(built["old"], built["old-engine"], payload=True)
    assert same.files is not None and not same.files and not same.differs
    assert same.files.basis == "importable files" and same.files.unchanged == 2
    d = diff_paths(built["old"], built["new-engine"], payload=True)
    assert [(a.path, b.path) for a, b in d.files.changed] == \
        [("data_pipeline/tasks.py", "workflow/data_pipeline/tasks.py")]
    assert not (d.files.added or d.files.removed)


def test_notes_across_formats_say_what_was_compared(built):
    """Without --payload the note says how to compare the payloads; with it, the files
    were compared, and no note says the payload was not."""
    d = diff_paths(built["old"], built["old-engine"])
    assert [n for n in d.notes if n.startswith("payload not compared: ")] == [
        "payload not compared: a wheel payload and a source payload (another format) have "
        "no size or sha256 in common; --payload compares their files"]
    both = diff_paths(built["old"], built["old-engine"], payload=True)
    assert not [n for n in both.notes if n.startswith("payload not compared")], both.notes
    assert any(n.startswith("payload files compared as importable files") for n in both.notes)
    assert both.payload.reason == d.payload.reason  # the JSON still says why


def test_payload_files_of_engine_archives(built):
    d = diff_paths(built["old-engine"], built["new-engine"], payload=True)
    assert [b.path for _, b in d.files.changed] == ["workflow/data_pipeline/tasks.py"]


def test_a_rebuilt_wheel_differs_but_not_its_files(built, tmp_path, monkeypatch):
    """Another SOURCE_DATE_EPOCH changes the wheel's bytes (zip timestamps), not a file
    in it: --payload tells the two apart."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    again = build_package(built["old-dir"], tmp_path / "again.cloacina").path
    d = diff_paths(built["old"], again, payload=True)
    assert d.differs_in == ["payload"]
    assert [c.field for c in d.payload.changes] == ["sha256"]
    assert not d.files and d.files.unchanged == 5


def test_payload_with_a_project_directory_is_a_note(built):
    d = diff_paths(built["old"], built["old-dir"], payload=True)
    assert d.files is None and not d.differs
    assert any("--payload" in n for n in d.notes)


def test_a_damaged_payload_cannot_be_listed(built, tmp_path):
    damaged = damage_payload(built["new"], tmp_path / "damaged.cloacina")
    with pytest.raises(UsageError, match="cannot list NEW's payload") as info:
        diff_paths(built["old"], damaged, payload=True)
    assert info.value.exit_code == 2 and info.value.hint
