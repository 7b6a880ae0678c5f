"""Keys: generation, file modes, encryption, sources (file, env, stdin), ids, trust files."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from cloacina_build.errors import UsageError
from cloacina_build.trust.keys import KeyError_, generate, load_any_public, load_signing_key
from cloacina_build.trust.store import TrustError, load_trust


def raw_public(pub_path: Path) -> bytes:
    key = serialization.load_pem_public_key(pub_path.read_bytes())
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_generate_writes_pkcs8_and_spki_with_safe_modes(tmp_path):
    private, public, key_id = generate("release", tmp_path / "keys")
    assert (private.name, public.name) == ("release.key", "release.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id == hashlib.sha256(raw_public(public)).hexdigest()


def test_generate_refuses_to_overwrite_either_file(tmp_path):
    _, public, _ = generate("a", tmp_path)
    before = public.read_bytes()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        generate("a", tmp_path)
    (tmp_path / "b.pub").write_text("not mine")
    with pytest.raises(UsageError, match="b.pub already exists"):
        generate("b", tmp_path)
    assert not (tmp_path / "b.key").exists() and public.read_bytes() == before


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "-dash", "x" * 65])
def test_bad_key_names(tmp_path, name):
    with pytest.raises(UsageError):
        generate(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_encrypted_key_round_trip(tmp_path):
    private, _, key_id = generate("enc", tmp_path, passphrase=b"correct horse")
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = load_signing_key(str(private), passphrase=b"correct horse")
    assert key.public.id == key_id
    with pytest.raises(KeyError_, match="wrong passphrase"):
        load_signing_key(str(private), passphrase=b"wrong")
    with pytest.raises(KeyError_, match="encrypted and no passphrase"):
        load_signing_key(str(private))
    assert load_signing_key(str(private), prompt=lambda: b"correct horse").public.id == key_id


def test_key_from_environment_and_stdin(tmp_path, monkeypatch):
    private, _, key_id = generate("ci", tmp_path)
    monkeypatch.setenv("SIGNING_KEY", private.read_text())
    assert load_signing_key("env:SIGNING_KEY").public.id == key_id
    monkeypatch.setenv("EMPTY", "")
    with pytest.raises(KeyError_, match="EMPTY is not set or empty"):
        load_signing_key("env:EMPTY")
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(private.read_bytes())))
    key = load_signing_key("-")
    assert key.public.id == key_id and key.name == f"key-{key_id[:12]}"


def test_key_material_never_appears_in_errors_or_repr(tmp_path, monkeypatch):
    private, _, _ = generate("ci", tmp_path)
    pem = private.read_text()
    body = pem.splitlines()[1]
    monkeypatch.setenv("BROKEN", pem.replace(body, body[::-1]))
    with pytest.raises(KeyError_) as info:
        load_signing_key("env:BROKEN")
    assert body not in str(info.value) and body[::-1] not in info.value.diagnostics()
    assert body not in repr(load_signing_key(str(private)))


def test_public_file_is_not_a_signing_key(tmp_path):
    _, public, key_id = generate("a", tmp_path)
    with pytest.raises(KeyError_, match="does not hold a PEM private key") as info:
        load_signing_key(str(public))
    assert "not the .pub file" in info.value.hint
    assert load_any_public(str(public)).id == key_id


def test_non_ed25519_keys_are_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.key"
    path.write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    with pytest.raises(KeyError_, match="not an Ed25519 key"):
        load_signing_key(str(path))


# ------------------------------------------------------------------ trust stores


def test_trust_directory(tmp_path):
    _, _, a = generate("alice", tmp_path)
    _, _, b = generate("bob", tmp_path)
    store = load_trust(tmp_path)
    assert {k.name for k in store.keys.values()} == {"alice", "bob"}
    assert set(store.keys) == {a, b}


def test_trust_file_with_expiry_revocation_and_inline_keys(tmp_path):
    _, pub_a, a = generate("alice", tmp_path / "k")
    _, pub_b, b = generate("bob", tmp_path / "k")
    (tmp_path / "trust.toml").write_text(f'''
version = 1
[[keys]]
name = "alice"
path = "k/alice.pub"
id = "{a}"
expires = 2030-01-01T00:00:00Z

[[keys]]
name = "bob"
public_key = """{pub_b.read_text()}"""
revoked = true
revoked_reason = "laptop stolen"

[[revoked]]
id = "{"0" * 64}"
reason = "old CI key"
''')
    store = load_trust(tmp_path / "trust.toml")
    assert store.lookup(a).expires.year == 2030
    assert store.revocation(b) == (True, "laptop stolen")
    assert store.revocation("0" * 64) == (True, "old CI key")
    assert store.revocation(a) == (False, None)


@pytest.mark.parametrize("body, message", [
    ('[[keys]]\nname = "a"\npath = "k/alice.pub"\nexpire = 2030-01-01', "did you mean 'expires'"),
    ('[[keys]]\nname = "a"\npath = "k/alice.pub"\nid = "' + "1" * 64 + '"', "does not match"),
    ('[[keys]]\nname = "a"', "exactly one of path or public_key"),
    ('[[keys]]\nname = "a"\npath = "k/missing.pub"', "cannot read"),
    ('[[keys]]\nname = "a"\npublic_key = "garbage"', "not a PEM public key"),
    ('[[keys]]\nname = "a"\npath = "k/alice.pub"\nexpires = "soon"', "not an RFC 3339"),
    ('version = 2\n[[keys]]\nname = "a"\npath = "k/alice.pub"', "version 2 is not supported"),
    ('[keys]\nname = "a"', "array of tables"),
    ("[[keys]\n", "not a readable TOML"),
    ('[[keys]]\nname = "a"\npath = "k/alice.pub"\n[[keys]]\nname = "b"\npath = "k/alice.pub"',
     "listed twice"),
])
def test_bad_trust_files(tmp_path, body, message):
    generate("alice", tmp_path / "k")
    (tmp_path / "trust.toml").write_text(body)
    with pytest.raises(TrustError, match=message):
        load_trust(tmp_path / "trust.toml")


def test_missing_or_empty_trust(tmp_path):
    with pytest.raises(TrustError, match="no trust directory or file"):
        load_trust(tmp_path / "nope")
    with pytest.raises(TrustError, match="holds no .pub files"):
        load_trust(tmp_path)


def test_one_pub_file_is_a_store_of_that_key_and_near_misses_say_why(tmp_path):
    """Found by a new user: '--trust keys/ci.pub' was 'not a readable TOML trust file:
    Invalid key "-----BEGIN PUBLIC KEY-----"'; a directory holding only ci.key said
    nothing of it."""
    private, public, key_id = generate("ci", tmp_path / "k")
    store = load_trust(public)
    assert list(store.keys) == [key_id] and store.keys[key_id].name == "ci"
    (tmp_path / "ci.pem").write_bytes(public.read_bytes())
    with pytest.raises(TrustError, match="is a PEM key, not a trust file") as caught:
        load_trust(tmp_path / "ci.pem")
    assert "NAME.pub" in caught.value.hint
    only = tmp_path / "only-private"
    only.mkdir()
    (only / "ci.key").write_bytes(private.read_bytes())
    with pytest.raises(TrustError, match=r"holds no .pub files \(only private keys: ci.key\)"):
        load_trust(only)
    junk = tmp_path / "junk.pub"
    junk.write_bytes(b"junk")
    with pytest.raises(TrustError, match="is not a PEM public key") as caught:
        load_trust(junk)
    assert "passphrase" not in caught.value.hint  # found by the second new-user trial
    mislabelled = tmp_path / "secret.pub"
    mislabelled.write_bytes(private.read_bytes())
    for given in (private, mislabelled):  # a .key as the trust file, or one named .pub
        with pytest.raises(TrustError, match="is a private key, not a public one") as caught:
            load_trust(given)
        assert "trust its .pub" in caught.value.hint
