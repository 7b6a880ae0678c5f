"""The archive layer: names, tar stream round trips, frames, manifest round trips."""

from __future__ import annotations

import io
import posixpath
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.errors import PackageError
from cloacina_build.format import archive
from cloacina_build.format import manifest as mf
from cloacina_build.format.archive import TarStream
from cloacina_build.format.frames import walk_frames
from cloacina_build.format.limits import Limits
from cloacina_build.format.names import NameSet, name_problem
from cloacina_build.format.package import open_package
from cloacina_build.format.schemas import schema_findings
from cloacina_build.model import Manifest

segment = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                  min_size=1, max_size=12)


@settings(max_examples=300)
@given(st.lists(segment, min_size=1, max_size=5))
def test_accepted_names_are_safe_relative_paths(parts):
    name = "/".join(parts)
    if name_problem(name) is None:
        assert not name.startswith("/") and "\\" not in name
        assert posixpath.normpath(name) == name
        assert ".." not in name.split("/") and "." not in name.split("/")
        assert unicodedata.normalize("NFC", name) == name
        assert not posixpath.isabs(posixpath.join("root", name).replace("root/", "", 1))


@settings(max_examples=200)
@given(st.lists(segment, min_size=1, max_size=4), st.sampled_from(
    ["/{}", "../{}", "{}/../x", "./{}", "{}//x", "{}/", "C:/{}", "{}\\x", "{}\x00", "{}\x1b"]))
def test_hostile_shapes_are_always_refused(parts, shape):
    assert name_problem(shape.format("/".join(parts))) is not None


@given(st.text(alphabet="abcABC", min_size=1, max_size=6))
def test_case_collisions_are_detected(name):
    names = NameSet()
    assert names.add(name) is None
    assert names.add(name)[0] == "member-name-duplicate"
    other = name.swapcase()
    if other != name:
        assert names.add(other)[0] == "member-name-case-collision"


member_names = st.lists(st.text(alphabet="abcdefghij_0123456789", min_size=1, max_size=20),
                        min_size=1, max_size=6, unique_by=str.casefold)


@settings(max_examples=60, deadline=None)
@given(member_names, st.data())
def test_tar_stream_round_trip(names, data):
    members = [(n, data.draw(st.binary(max_size=3000))) for n in names]
    buf = io.BytesIO()
    archive.write_head(buf, members[:1], 0)
    archive.write_trailer(buf, members[1:], 0)
    buf.seek(0)
    got = [(m.name, b"".join(m.chunks())) for m in TarStream(buf)]
    assert got == members


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=5000), st.integers(min_value=0))
def test_truncation_is_always_detected(payload, cut):
    buf = io.BytesIO()
    archive.write_head(buf, [("a", payload)], 0)
    archive.write_trailer(buf, [], 0)
    raw = buf.getvalue()
    cut %= len(raw)
    with pytest.raises(PackageError) as info:
        list(TarStream(io.BytesIO(raw[:cut])))
    assert info.value.code in ("archive-truncated", "archive-corrupt")


def test_limits_are_counted_not_declared():
    buf = io.BytesIO()
    archive.write_head(buf, [("a", b"x" * 5000), ("b", b"y")], 0)
    archive.write_trailer(buf, [], 0)
    for limits, code in ((Limits(max_members=1), "limit-member-count"),
                         (Limits(max_member_size=4999), "limit-member-size"),
                         (Limits(max_total_size=4096), "limit-total-size"),
                         (Limits(max_ratio=2, ratio_grace=1024), "limit-compression-ratio")):
        buf.seek(0)
        with pytest.raises(PackageError) as info:
            for m in TarStream(buf, limits):
                b"".join(m.chunks())
        assert info.value.code == code


def test_frames_of_a_real_package(built_pipeline):
    size = built_pipeline.stat().st_size
    with open(built_pipeline, "rb") as fh:
        frames = walk_frames(fh, size)
    assert len(frames) == 3
    assert frames[0].offset == 0 and sum(f.length for f in frames) == size


def test_open_package_reads_head_and_trailer(built_pipeline):
    pkg = open_package(built_pipeline)
    assert pkg.name == "data-pipeline" and pkg.version == "1.0.0"
    assert pkg.digest == mf.digest(pkg.manifest_bytes)
    assert pkg.signatures == []


def test_signatures_in_the_trailer_are_listed(tmp_path, built_pipeline):
    """A trailer with a signature record is found by walking frames, not by decompressing."""
    raw = built_pipeline.read_bytes()
    with open(built_pipeline, "rb") as fh:
        frames = walk_frames(fh, len(raw))
    out = tmp_path / "signed.cloacina"
    with open(out, "wb") as fh:
        fh.write(raw[: frames[-1].offset])
        archive.write_trailer(fh, [("signatures/a.json", b'{"key_id": "ab", "signer": "ci"}')],
                              0)
    (read,) = open_package(out).signatures
    assert read.member == "signatures/a.json" and read.record is None
    assert [f.code for f in read.findings] == ["signature-malformed"]


json_scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=50, deadline=None)
@given(json_values, st.text(min_size=1, max_size=30))
def test_manifest_round_trip_and_digest(built_pipeline, value, doc):
    manifest = open_package(built_pipeline).manifest.to_dict()
    manifest["workflow"]["tasks"][0]["trigger_rules"] = {
        "type": "All", "conditions": [{"type": "ContextValue", "key": "k",
                                       "operator": "Equals", "value": value}]}
    manifest["workflow"]["tasks"][0]["doc"] = doc
    data = mf.dumps(manifest)
    parsed, findings = Manifest.parse(data)
    assert findings == [] and parsed is not None
    assert parsed.to_dict() == manifest
    assert parsed.to_json() == data
    assert schema_findings(manifest, "manifest", code="schema-manifest", location="m") == []


def test_manifest_schema_is_closed(built_pipeline):
    manifest = open_package(built_pipeline).manifest.to_dict()
    manifest["workflow"]["tasks"][0]["retries"] = 3
    (finding,) = schema_findings(manifest, "manifest", code="schema-manifest", location="m")
    assert "unknown key 'retries' in [workflow.tasks.0]" in finding.message
