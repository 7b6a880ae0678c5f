"""The attestation reader is total: for any bytes, an envelope or findings, never an
exception; base64 is read strictly; everything it accepts round-trips."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina_build.trust.dsse import (
    MAX_ENVELOPE,
    Envelope,
    EnvelopeSignature,
    b64decode_strict,
    envelope_bytes,
    parse_envelope,
    sign_envelope,
)
from cloacina_build.trust.keys import PublicKey, SigningKey
from cloacina_build.trust.provenance import judge_attestation, statement_bytes
from cloacina_build.trust.store import TrustStore

SHA = "ab" * 32
NAME = "p-1.0.0.cloacina"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return SigningKey(Ed25519PrivateKey.generate(), "k")


def trust_of(key: SigningKey) -> TrustStore:
    return TrustStore.from_keys(PublicKey(key.public.raw, "k"))


def judged(data: bytes, key: SigningKey):
    verdict = judge_attestation(data, where="x.intoto.jsonl", name=NAME, sha256=SHA,
                                trust=trust_of(key), now=dt.datetime.now(dt.UTC))
    json.dumps(verdict.to_dict())  # always serialisable
    for finding in verdict.findings:
        assert finding.code.startswith("provenance-"), finding
        finding.render()
    return verdict


def good(key: SigningKey, predicate=None) -> bytes:
    return envelope_bytes(sign_envelope(statement_bytes(NAME, SHA, predicate or {}), key))


def test_a_good_envelope_verifies(key):
    assert judged(good(key), key).ok


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes_are_an_envelope_or_findings(data):
    envelope, findings = parse_envelope(data, "x")
    assert (envelope is None) == bool(findings)
    assert all(f.code == "provenance-malformed" for f in findings)


json_leaf = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=12) \
    | st.floats(allow_nan=False, allow_infinity=False)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                          max_leaves=16)
fields = {"payloadType": st.just("application/vnd.in-toto+json") | json_value,
          "payload": st.just("e30=") | json_value,
          "signatures": st.lists(st.fixed_dictionaries(
              {}, optional={"keyid": json_value, "sig": st.just("A" * 88) | json_value}),
              max_size=3) | json_value}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=fields), st.dictionaries(st.text(max_size=8),
                                                                   json_value, max_size=2))
def test_envelopes_of_any_shape_are_judged_without_an_exception(shape, extra):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = SigningKey(Ed25519PrivateKey.from_private_bytes(b"\x01" * 32), "k")
    verdict = judged(json.dumps({**extra, **shape}).encode(), key)
    assert not verdict.ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_value)
def test_a_signed_statement_of_any_shape_is_judged_without_an_exception(statement):
    """A trusted key signed something odd: the statement reader is total too."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = SigningKey(Ed25519PrivateKey.from_private_bytes(b"\x02" * 32), "k")
    body = json.dumps(statement).encode()
    assert not judged(envelope_bytes(sign_envelope(body, key)), key).ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_value)
def test_a_predicate_of_any_shape_is_read_or_refused(predicate):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = SigningKey(Ed25519PrivateKey.from_private_bytes(b"\x03" * 32), "k")
    verdict = judged(good(key, predicate), key)
    assert verdict.ok == (verdict.facts is not None)
    if not verdict.ok:
        assert [f.code for f in verdict.findings] == ["provenance-malformed"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.binary(max_size=300))
def test_what_is_written_is_read_back(payload_type, payload):
    envelope = Envelope(payload_type, payload, (EnvelopeSignature("id", b"\x00" * 64),))
    parsed, findings = parse_envelope(envelope_bytes(envelope))
    assert findings == [] and parsed == envelope


@pytest.mark.parametrize("text, why", [
    ("aGk", "padded"),                    # no padding
    ("aGl=", "canonical"),                # unused bits set ('aGk=' is the canonical form)
    ("aG+_", "alphabets mixed"),
    ("aG k", "alphabet"),                 # whitespace
    ("aGk=\nAAA", "alphabet"),              # a line break
    ("=aGk", "alphabet"),                 # padding first
    ("aGk==", "padded"),
])
def test_base64_is_strict(text, why):
    with pytest.raises(ValueError, match=why):
        b64decode_strict(text, "'payload'", 100)


def test_both_alphabets_are_accepted():
    raw = bytes(range(250, 256))
    assert b64decode_strict(base64.b64encode(raw).decode(), "x", 10) == raw
    assert b64decode_strict(base64.urlsafe_b64encode(raw).decode(), "x", 10) == raw


def _findings(data: bytes) -> str:
    envelope, findings = parse_envelope(data, "x")
    assert envelope is None
    (finding,) = findings
    return finding.message


@pytest.mark.parametrize("data, says", [
    (b"", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'{"payloadType": "t", "payload": "", "signatures": []}', "not signed"),
    (b'{"payloadType": "t", "signatures": [{"sig": "AAAA"}]}', "no 'payload'"),
    (b'{"payloadType": 7, "payload": "", "signatures": [{"sig": "AAAA"}]}', "payloadType"),
    (b'{"payloadType": "t", "payload": "", "signatures": [{"keyid": 1, "sig": "AAAA"}]}',
     "keyid"),
    (b'{"payloadType": "t", "payload": "", "signatures": [{"keyid": "k"}]}', "no 'sig'"),
    (b'{"payloadType": "t", "payload": "", "signatures": [{"sig": ""}]}', "empty"),
    (b'{"payloadType": "t", "payload": "", "signatures": "AAAA"}', "array"),
    (b'{"payloadType": "t", "payload": NaN, "signatures": [{"sig": "AAAA"}]}',
     "not valid JSON"),
    (b'{"payloadType": "\\ud800", "payload": "", "signatures": [{"sig": "AAAA"}]}',
     "Unicode"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    (b'{"a": 1}\n{"b": 2}\n', "one envelope"),
    (b'{"payloadType": "t", "payload": "", "signatures": [' + b'{"sig": "AAAA"},' * 16
     + b'{"sig": "AAAA"}]}', "more than 16"),
])
def test_hostile_envelopes_are_named(data, says):
    assert says in _findings(data)


def test_oversized_envelopes_are_refused_before_parsing():
    data = b'{"payload": "' + b"A" * MAX_ENVELOPE + b'"}'
    assert "larger than" in _findings(data)


def test_a_signature_of_the_wrong_length_is_invalid_not_a_crash(key):
    data = json.loads(good(key))
    data["signatures"][0]["sig"] = base64.b64encode(b"\x00" * 63).decode()
    verdict = judged(json.dumps(data).encode(), key)
    assert [f.code for f in verdict.findings] == ["provenance-invalid"]
