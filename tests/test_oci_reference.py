"""oci:// references and OCI manifests are read totally: any text or bytes give a typed
object or one CloacinaError, never a traceback; what is written reads back the same."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.errors import CloacinaError, PackageError, UsageError
from cloacina_build.oci.manifest import (
    MAX_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    Index,
    parse_index,
    parse_manifest,
)
from cloacina_build.oci.reference import Reference, default_tag, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text,expected", [
    ("oci://localhost:5000/a/b:1.0.0", Reference("localhost:5000", "a/b", "1.0.0")),
    ("oci://ghcr.io/org/team/pkg", Reference("ghcr.io", "org/team/pkg")),
    (f"oci://127.0.0.1:5000/x@{D}", Reference("127.0.0.1:5000", "x", None, D)),
    (f"oci://r.example/x:tag@{D}", Reference("r.example", "x", "tag", D)),
    ("oci://[::1]:5000/a-b/c__d.e:v_1-2.3", Reference("[::1]:5000", "a-b/c__d.e", "v_1-2.3")),
    ("OCI://Registry.Example/x", Reference("Registry.Example", "x")),
])
def test_references_parse(text, expected):
    ref = parse_reference(text)
    assert ref == expected
    assert ref.reference == (expected.digest or expected.tag)


@pytest.mark.parametrize("text,why", [
    ("docker://r/x:1", "must start with oci://"),
    ("oci://", "it names no host"),
    ("oci://host", "names the registry host but no repository"),
    ("oci://host:5000", "names the registry host:5000 but no repository"),
    ("oci:///repo", "it names no host"),
    ("oci://host/", "repository is empty"),
    ("oci://host/Upper", "lower-case"),
    ("oci://host/a//b", "repository component ''"),
    ("oci://host/a/../b", "repository component '..'"),
    ("oci://host/a:", "a tag is"),
    ("oci://host/a:.hidden", "a tag is"),
    ("oci://host/a:" + "t" * 129, "a tag is"),
    ("oci://host/a@sha256:abc", "sha256: and 64"),
    ("oci://host/a@sha512:" + "a" * 128, "sha256: and 64"),
    ("oci://ho st/a", "is not a host name"),
    ("oci://host:99999/a", "is not a host name"),
    ("oci://host/a:1\n", "a tag is"),
    ("oci://host/" + "a" * 256, "longer than 255"),
])
def test_bad_references_are_one_usage_error(text, why):
    with pytest.raises(UsageError) as caught:
        parse_reference(text)
    assert caught.value.code == "oci-reference" and caught.value.exit_code == 2
    assert why in caught.value.message
    assert "oci://HOST[:PORT]/REPOSITORY[:TAG]" in caught.value.hint


def test_default_tag_is_the_version_with_plus_as_underscore():
    assert default_tag("1.0.0") == "1.0.0"
    assert default_tag("1.0.0+local.2") == "1.0.0_local.2"
    with pytest.raises(UsageError):
        default_tag("1" * 200)


def test_docker_io_is_served_by_registry_1():
    assert parse_reference("oci://docker.io/library/x:1").api_host == "registry-1.docker.io"
    assert parse_reference("oci://r.example/x").api_host == "r.example"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), st.text(max_size=60).map(lambda s: "oci://" + s),
                 st.from_regex(r"oci://[a-z0-9.:\[\]-]{1,20}/[a-z0-9._/-]{1,20}"
                               r"(:[A-Za-z0-9_.-]{0,20})?(@sha256:[0-9a-f]{0,64})?",
                               fullmatch=True)))
def test_parse_reference_is_total_and_round_trips(text):
    try:
        ref = parse_reference(text)
    except UsageError as exc:
        assert exc.code == "oci-reference"
        return
    assert parse_reference(str(ref)) == ref


# -- manifests ------------------------------------------------------------------------


def _manifest() -> ImageManifest:
    return ImageManifest(
        Descriptor("application/vnd.cloacina.package.config.v1+json", D, 10),
        (Descriptor("application/vnd.cloacina.package.v1.tar+zstd", D, 2799,
                    annotations=(("org.opencontainers.image.title", "p.cloacina"),)),),
        "application/vnd.cloacina.package.v1",
        Descriptor(OCI_MANIFEST, D, 500),
        (("org.opencontainers.image.version", "1.0.0"),))


def test_manifests_and_indexes_round_trip():
    m = _manifest()
    assert parse_manifest(m.to_bytes(), "m") == m
    index = Index((Descriptor(OCI_MANIFEST, D, 3, "application/vnd.x",
                              (("a", "b"),)),))
    assert parse_index(index.to_bytes(), "i") == index
    raw = json.loads(m.to_bytes())
    assert raw["mediaType"] == OCI_MANIFEST and json.loads(index.to_bytes())["mediaType"] == \
        OCI_INDEX


@pytest.mark.parametrize("edit,why", [
    (lambda r: r.update(schemaVersion=1), "schemaVersion"),
    (lambda r: r.update(schemaVersion=True), "schemaVersion"),
    (lambda r: r.update(mediaType=OCI_INDEX), "mediaType"),
    (lambda r: r["config"].update(digest="sha256:AB"), "config.digest"),
    (lambda r: r["config"].update(size=-1), "config.size"),
    (lambda r: r["config"].update(size=2**60), "config.size"),
    (lambda r: r["config"].update(size=1.5), "config.size"),
    (lambda r: r["config"].update(mediaType="not a type"), "config.mediaType"),
    (lambda r: r.update(layers={}), "layers"),
    (lambda r: r["layers"].append(7), "layers[1]"),
    (lambda r: r.update(annotations={"a": 1}), "annotations.a"),
    (lambda r: r.update(annotations=[]), "annotations"),
    (lambda r: r.update(subject="x"), "subject"),
    (lambda r: r.update(artifactType=5), "artifactType"),
])
def test_malformed_manifests_are_one_package_error(edit, why):
    raw = json.loads(_manifest().to_bytes())
    edit(raw)
    with pytest.raises(PackageError) as caught:
        parse_manifest(json.dumps(raw).encode(), "the manifest")
    assert caught.value.code == "oci-manifest" and why in caught.value.message


@pytest.mark.parametrize("data", [b"", b"[]", b"{", b"\xff", b'{"a": NaN}',
                                  b'{"schemaVersion": 2, "x": "\\ud800"}', b"1" * 100,
                                  b"[" * 100_000, b" " * (MAX_MANIFEST + 1)])
def test_not_json_or_too_large_is_one_package_error(data):
    for parse in (parse_manifest, parse_index):
        with pytest.raises(PackageError) as caught:
            parse(data, "x")
        assert caught.value.code == "oci-manifest"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) |
                    st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)
KEYS = st.sampled_from(["schemaVersion", "mediaType", "config", "layers", "subject",
                        "artifactType", "annotations", "manifests", "digest", "size"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=7), st.booleans())
def test_parsers_are_total_over_json(value, start_valid):
    raw = json.loads(_manifest().to_bytes()) if start_valid else {}
    raw.update(value)
    data = json.dumps(raw).encode()
    for parse in (parse_manifest, parse_index):
        try:
            parse(data, "x")
        except CloacinaError as exc:
            assert exc.code == "oci-manifest"
