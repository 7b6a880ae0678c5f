"""Signing and verification: embedded and detached signatures, trust, tampering, rollback."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloacina_build.build.builder import build_package
from cloacina_build.errors import PackageError, UsageError
from cloacina_build.format.package import open_package
from cloacina_build.model import SignatureStatus
from cloacina_build.ops.signing import sign_detached, sign_package
from cloacina_build.ops.validate import ValidationPolicy, validate_package, verify_package
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.store import load_trust

from .hostile import read_members, replace, write_members  # noqa: F401
from .keyring import key, make_keyring, trusted


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):
    return make_keyring(tmp_path_factory.mktemp("keys"))


def codes(report) -> list[str]:
    return [f.code for f in report.errors]


@pytest.fixture
def signed(pipeline_pkg, keyring) -> Path:
    sign_package(pipeline_pkg, key(keyring, "alice"), comment="release 1.0.0")
    return pipeline_pkg


def test_signed_package_verifies_and_names_its_signer(signed, keyring):
    report = verify_package(signed, trusted(keyring))
    assert report.ok, [f.render() for f in report.findings]
    assert report.verified_by == ["alice"]
    (sig,) = report.signatures
    assert sig.status is SignatureStatus.VERIFIED and sig.comment == "release 1.0.0"
    assert sig.key_id == keyring["alice"][2]


def test_signing_never_changes_the_signed_content(built_pipeline, signed):
    unsigned, after = open_package(built_pipeline), open_package(signed)
    assert after.manifest_bytes == unsigned.manifest_bytes
    assert after.package_toml == unsigned.package_toml
    cut = unsigned.frames[-1].offset
    assert signed.read_bytes()[:cut] == built_pipeline.read_bytes()[:cut]
    assert validate_package(signed).ok


def test_co_signing_adds_and_re_signing_replaces(signed, keyring):
    result = sign_package(signed, key(keyring, "bob"), comment="second")
    assert result.signatures == 2 and result.replaced is None
    before = signed.read_bytes()
    with pytest.raises(UsageError) as info:  # never silently: only with force
        sign_package(signed, key(keyring, "alice"), comment="renewed")
    assert info.value.code == "exists" and "--force" in (info.value.hint or "")
    assert signed.read_bytes() == before
    result = sign_package(signed, key(keyring, "alice"), comment="renewed", force=True)
    assert result.signatures == 2
    assert result.replaced and "by alice" in result.replaced
    report = verify_package(signed, trusted(keyring, threshold=2))
    assert report.ok and report.verified_by == ["alice", "bob"]
    assert sorted(s.comment for s in report.signatures) == ["renewed", "second"]


def test_unsigned_package_is_refused_by_verify(pipeline_pkg, keyring):
    report = verify_package(pipeline_pkg, trusted(keyring))
    assert codes(report) == ["signature-missing"]


def test_untrusted_signer(pipeline_pkg, keyring):
    sign_package(pipeline_pkg, key(keyring, "mallory"))
    report = verify_package(pipeline_pkg, trusted(keyring))
    assert codes(report) == ["signature-untrusted"]
    assert "mallory" in report.errors[0].message
    relaxed = validate_package(pipeline_pkg, ValidationPolicy(trust=trusted(keyring)))
    assert relaxed.ok and [f.code for f in relaxed.warnings] == ["signature-untrusted"]


def test_revoked_and_expired_keys_are_refused(signed, keyring, tmp_path):
    pub = keyring["alice"][1]
    trust_file = tmp_path / "trust.toml"
    trust_file.write_text(f'[[keys]]\nname = "alice"\npath = "{pub}"\nrevoked = true\n'
                          'revoked_reason = "key leaked"\n')
    report = verify_package(signed, TrustPolicy(trust=load_trust(trust_file)))
    assert codes(report) == ["signature-key-revoked"]
    assert "key leaked" in report.errors[0].message
    trust_file.write_text(f'[[keys]]\nname = "alice"\npath = "{pub}"\n'
                          f'[[revoked]]\nid = "{keyring["alice"][2]}"\n')
    assert codes(verify_package(signed, TrustPolicy(trust=load_trust(trust_file)))) == \
        ["signature-key-revoked"]
    trust_file.write_text(f'[[keys]]\nname = "alice"\npath = "{pub}"\n'
                          "expires = 2020-01-01T00:00:00Z\n")
    report = verify_package(signed, TrustPolicy(trust=load_trust(trust_file)))
    assert codes(report) == ["signature-key-expired"]
    later = TrustPolicy(trust=load_trust(trust_file),
                        now=dt.datetime(2019, 6, 1, tzinfo=dt.UTC))
    assert verify_package(signed, later).ok


def test_threshold_counts_distinct_keys(signed, keyring, tmp_path):
    assert codes(verify_package(signed, trusted(keyring, threshold=2))) == \
        ["signature-threshold"]
    # the same key again, as a detached signature, still counts once
    sig = sign_detached(signed, key(keyring, "alice"), out=tmp_path / "again.sig")
    report = verify_package(signed, trusted(keyring, threshold=2, detached=sig.path))
    assert codes(report) == ["signature-threshold"]
    assert len(report.signatures) == 2 and report.verified_by == ["alice"]
    sign_package(signed, key(keyring, "mallory"))
    assert codes(verify_package(signed, trusted(keyring, threshold=2))) == \
        ["signature-threshold", "signature-untrusted"]
    sign_package(signed, key(keyring, "bob"))
    report = verify_package(signed, trusted(keyring, threshold=2))
    assert report.ok and [f.code for f in report.warnings] == ["signature-untrusted"]


def _flip_positions(path: Path) -> list[int]:
    """Every byte of the head and trailer frames (names, manifest, signatures) and of the
    payload frame's header and checksum; every third byte of the compressed payload itself
    (any flip there breaks the zstd checksum and the payload digest alike)."""
    frames = open_package(path).frames
    payload = frames[1]
    body = range(payload.offset + 32, payload.offset + payload.length - 8)
    return [i for i in range(path.stat().st_size) if i not in body or i % 3 == 0]


@pytest.mark.parametrize("part", range(4))
def test_every_single_byte_flip_is_detected(signed, keyring, tmp_path, part):
    """Flip one bit of a small signed package's bytes, one at a time: verify must refuse
    each (in four parts, so that parallel test workers share the work)."""
    policy = trusted(keyring)
    data = signed.read_bytes()
    assert verify_package(signed, policy).ok
    target = tmp_path / "flipped.cloacina"
    undetected = []
    positions = _flip_positions(signed)
    for i in positions[part::4]:
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        target.write_bytes(mutated)
        if verify_package(target, policy).ok:
            undetected.append(i)
    assert undetected == [], f"{len(undetected)} of {len(data)} positions went unnoticed"


def _transplant(source: Path, dest: Path) -> None:
    """Give ``dest`` the signatures of ``source``, in a canonical trailer, as an attacker
    with the tool's own writer would."""
    from cloacina_build.format.archive import write_trailer

    sigs = open_package(source).signature_members
    cut = open_package(dest).frames[-1].offset
    prefix = dest.read_bytes()[:cut]
    with open(dest, "wb") as fh:
        fh.write(prefix)
        write_trailer(fh, sigs, 315532800)


def _rewrite_trailer(path: Path, members) -> None:
    from cloacina_build.format.archive import write_trailer

    cut = open_package(path).frames[-1].offset
    prefix = path.read_bytes()[:cut]
    with open(path, "wb") as fh:
        fh.write(prefix)
        write_trailer(fh, members, 315532800)


def test_signature_moved_to_another_package_is_refused(signed, built_etl, keyring, tmp_path):
    other = tmp_path / "etl.cloacina"
    shutil.copyfile(built_etl, other)
    _transplant(signed, other)
    report = verify_package(other, trusted(keyring))
    assert "signature-wrong-package" in codes(report)
    assert "made for data-pipeline 1.0.0, not order-etl 0.3.0" in report.errors[0].message


def test_signature_moved_to_another_version_is_refused(signed, pipeline_project, keyring,
                                                       tmp_path):
    toml = pipeline_project / "package.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    newer = build_package(pipeline_project, tmp_path / "newer.cloacina").path
    _transplant(signed, newer)
    assert "signature-wrong-package" in codes(verify_package(newer, trusted(keyring)))


def test_signature_on_rebuilt_content_of_the_same_version_is_refused(
        signed, pipeline_project, keyring, tmp_path):
    tasks = pipeline_project / "workflow/data_pipeline/tasks.py"
    tasks.write_text(tasks.read_text().replace('"success_rate": "95%"', '"success_rate": "99%"'))
    evil = build_package(pipeline_project, tmp_path / "evil.cloacina").path
    _transplant(signed, evil)
    assert codes(verify_package(evil, trusted(keyring))) == ["signature-content-mismatch"]


def test_malformed_signature_block(signed, keyring):
    members = read_members(signed)
    name = next(n for n, _ in members if n.startswith("signatures/"))
    record = json.loads(dict(members)[name])
    record["signature"] = "not base64!"
    from cloacina_build.trust.signatures import encode_record

    _rewrite_trailer(signed, [(name, encode_record(record))])
    report = verify_package(signed, trusted(keyring))
    assert codes(report) == ["signature-malformed"]
    assert report.errors[0].message == "signature is not valid base64"


def test_unsigned_json_fields_cannot_change_unnoticed(signed, keyring):
    """Re-encoding a record (same payload, other bytes) breaks the canonical trailer."""
    (name, data), = open_package(signed).signature_members
    record = json.loads(data)
    _rewrite_trailer(signed, [(name, json.dumps(record, indent=4).encode())])
    assert codes(verify_package(signed, trusted(keyring))) == ["signature-trailer"]


def test_forged_signature_is_invalid(signed, keyring):
    (name, data), = open_package(signed).signature_members
    record = json.loads(data)
    record["payload"]["comment"] = "approved by security"
    from cloacina_build.trust.signatures import encode_record

    _rewrite_trailer(signed, [(name, encode_record(record))])
    assert codes(verify_package(signed, trusted(keyring))) == ["signature-invalid"]


def test_signing_refuses_a_tampered_package(pipeline_pkg, keyring):
    members = read_members(pipeline_pkg)
    members = replace(members, "package.toml", dict(members)["package.toml"] + b"# x\n")
    write_members(pipeline_pkg, members)
    before = pipeline_pkg.read_bytes()
    with pytest.raises(PackageError, match="refusing to sign"):
        sign_package(pipeline_pkg, key(keyring, "alice"))
    assert pipeline_pkg.read_bytes() == before


def test_comment_length_is_bounded(pipeline_pkg, keyring):
    with pytest.raises(UsageError, match="longer than 1024"):
        sign_package(pipeline_pkg, key(keyring, "alice"), comment="x" * 1025)


# ------------------------------------------------------------- detached (engine format)


def _raw_ed25519(private_path: Path) -> Ed25519PrivateKey:
    return serialization.load_pem_private_key(private_path.read_bytes(), password=None)


def test_detached_signature_matches_an_independent_implementation(
        pipeline_pkg, keyring, tmp_path):
    """Ours verifies with raw primitives, and one made with raw primitives verifies with us."""
    before = pipeline_pkg.read_bytes()
    result = sign_detached(pipeline_pkg, key(keyring, "alice"))
    assert result.path == pipeline_pkg.with_name(pipeline_pkg.name + ".sig")
    assert pipeline_pkg.read_bytes() == before
    sig = json.loads(result.path.read_text())
    digest = hashlib.sha256(before).digest()
    assert set(sig) == {"version", "algorithm", "package_hash", "key_fingerprint",
                        "signature", "signed_at"}
    assert (sig["version"], sig["algorithm"]) == (1, "ed25519")
    assert sig["package_hash"] == digest.hex()
    pub = serialization.load_pem_public_key(keyring["alice"][1].read_bytes())
    raw_pub = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert sig["key_fingerprint"] == hashlib.sha256(raw_pub).hexdigest()
    pub.verify(base64.b64decode(sig["signature"]), digest)  # raises if wrong
    dt.datetime.strptime(sig["signed_at"], "%Y-%m-%dT%H:%M:%SZ")

    # the engine's side: a sidecar written with raw primitives only
    engine_key = _raw_ed25519(keyring["root"] / "all" / "bob.key")
    engine_sig = {
        "version": 1, "algorithm": "ed25519", "package_hash": digest.hex(),
        "key_fingerprint": hashlib.sha256(engine_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest(),
        "signature": base64.b64encode(engine_key.sign(digest)).decode(),
        "signed_at": "2026-01-01T00:00:00Z",
    }
    sidecar = tmp_path / "engine.sig"
    sidecar.write_text(json.dumps(engine_sig))
    report = verify_package(pipeline_pkg, trusted(keyring, detached=sidecar))
    assert report.ok and report.verified_by == ["bob"]


def test_detached_signature_for_other_bytes_is_refused(pipeline_pkg, built_etl, keyring,
                                                       tmp_path):
    sig = sign_detached(built_etl, key(keyring, "alice"), out=tmp_path / "etl.sig")
    report = verify_package(pipeline_pkg, trusted(keyring, detached=sig.path))
    assert codes(report) == ["signature-wrong-package"]
    engine = json.loads(sig.path.read_text())
    engine["package_hash"] = hashlib.sha256(pipeline_pkg.read_bytes()).hexdigest()
    sig.path.write_text(json.dumps(engine))
    assert codes(verify_package(pipeline_pkg, trusted(keyring, detached=sig.path))) == \
        ["signature-invalid"]


# ------------------------------------------------------------------ anti-rollback


def test_rollback_is_refused_unless_allowed(signed, pipeline_project, keyring, tmp_path):
    toml = pipeline_project / "package.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.2.0"'))
    newer = build_package(pipeline_project, tmp_path / "newer.cloacina").path
    sign_package(newer, key(keyring, "bob"))
    state = tmp_path / "state" / "seen.json"
    assert verify_package(newer, trusted(keyring, state_file=state)).ok
    assert json.loads(state.read_text())["packages"] == {"data-pipeline": "1.2.0"}
    report = verify_package(signed, trusted(keyring, state_file=state))
    assert codes(report) == ["rollback"] and "older than 1.2.0" in report.errors[0].message
    assert verify_package(signed, trusted(keyring, state_file=state, allow_rollback=True)).ok
    assert json.loads(state.read_text())["packages"] == {"data-pipeline": "1.2.0"}


def test_policy_needs_trust_to_require_a_signature():
    with pytest.raises(UsageError, match="needs trusted keys"):
        TrustPolicy(require_signature=True)
    with pytest.raises(UsageError, match="at least 1"):
        TrustPolicy(threshold=0)
