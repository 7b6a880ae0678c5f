"""Signature records read from a package are typed objects, read totally: a record of the
wrong JSON type or shape is a finding, never an exception.  And the policy that used to
live in the CLI (a FILE.sig beside the package) is the library's."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.errors import UsageError
from cloacina_build.model import SignatureStatus
from cloacina_build.trust.keys import generate, load_signing_key
from cloacina_build.trust.policy import (
    SignatureCheck,
    TrustPolicy,
    policy_from_options,
    sidecar,
    signature_findings,
)
from cloacina_build.trust.signatures import (
    Record,
    encode_record,
    make_detached,
    make_record,
    member_name,
    read_detached,
    read_record,
)

from .manifest_strategies import WRONG_VALUES, json_value


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory):
    private, _public, _kid = generate("ci", tmp_path_factory.mktemp("k"))
    return load_signing_key(str(private))


def _record(key) -> dict:
    return make_record(key, package="p", version="1", digest="a" * 64, archive="b" * 64,
                       comment="hello")


def test_a_good_record_reads_into_typed_fields(signing_key):
    record = _record(signing_key)
    name = member_name(record["payload"]["key_id"])
    read = read_record(encode_record(record), name)
    assert isinstance(read.record, Record) and read.findings == ()
    assert read.record.payload.signer == "ci" and read.record.payload.comment == "hello"
    assert read.record.member == name and read.record.valid()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_edit_of_a_record_reads_or_is_a_finding(signing_key, data):
    record = _record(signing_key)
    name = member_name(record["payload"]["key_id"])
    path = data.draw(st.sampled_from(list(_paths(record))))
    wrong = data.draw(st.sampled_from(WRONG_VALUES) | json_value)
    if path:
        node = record
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = wrong
    else:
        record = wrong
    read = read_record(json.dumps(record).encode(), name)
    assert (read.record is None) == bool(read.findings)
    assert all(f.code == "signature-malformed" for f in read.findings)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.sampled_from([
    b'{"version": 1, "payload": NaN}', b'"\\ud800"', b"[" * 10000, b"1" * 5000,
    (b'{"version": 1, "algorithm": "ed25519", "public_key": "", "payload": {}, '
     b'"signature": ""}')]))
def test_hostile_bytes_are_findings(data):
    read = read_record(data, "signatures/x.json")
    assert read.record is None and [f.code for f in read.findings] == ["signature-malformed"]
    detached, findings = read_detached(data, "x.sig")
    assert detached is None and [f.code for f in findings] == ["signature-malformed"]


def test_a_lone_surrogate_in_a_signer_is_malformed_not_a_crash(signing_key):
    record = _record(signing_key)
    text = json.dumps(record).replace('"signer": "ci"', '"signer": "\\udc00"')
    read = read_record(text.encode(), member_name(record["payload"]["key_id"]))
    assert read.record is None and "Unicode" in read.findings[0].message
    check = SignatureCheck("p", "1", "a" * 64, None, [("signatures/x.json", text.encode())],
                           trailer_ok=True)
    outcome = signature_findings(check, TrustPolicy())
    assert [s.status for s in outcome.signatures] == [SignatureStatus.MALFORMED]
    assert [s.to_dict() for s in outcome.signatures] == [
        {"member": "signatures/x.json", "status": "malformed"}]


def test_detached_reads_and_refuses(signing_key):
    sig = make_detached(signing_key, "c" * 64)
    detached, findings = read_detached(json.dumps(sig).encode(), "x.sig")
    assert findings == [] and detached.package_hash == "c" * 64
    assert detached.valid_with(signing_key.public)
    sig["version"] = True  # a JSON boolean is not the version 1
    assert read_detached(json.dumps(sig).encode(), "x.sig")[0] is None


def test_the_sidecar_beside_a_package_counts(tmp_path):
    pkg = tmp_path / "p.cloacina"
    pkg.write_bytes(b"x")
    assert sidecar(pkg) is None
    assert policy_from_options(None, sidecar_of=pkg).detached is None
    (tmp_path / "p.cloacina.sig").write_text("{}")
    assert sidecar(pkg) == tmp_path / "p.cloacina.sig"
    assert policy_from_options(None, sidecar_of=pkg).detached == tmp_path / "p.cloacina.sig"
    other = tmp_path / "other.sig"
    other.write_text("{}")
    assert policy_from_options(None, detached=other, sidecar_of=pkg).detached == other
    assert policy_from_options(None, detached=None).detached is None  # validate: no sidecar
    with pytest.raises(UsageError, match="no detached signature"):
        policy_from_options(None, detached=tmp_path / "missing.sig")
    with pytest.raises(UsageError, match="needs trusted keys"):
        policy_from_options(None, require=True)
