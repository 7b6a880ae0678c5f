"""Real Ed25519 keys for the signing tests: alice and bob trusted, mallory not."""

from __future__ import annotations

import shutil
from pathlib import Path

from cloacina_build.trust.keys import generate, load_signing_key
from cloacina_build.trust.policy import TrustPolicy
from cloacina_build.trust.store import load_trust


def make_keyring(root: Path) -> dict:
    """Three keys under ``root``; the trusted ones' public keys in ``root/trusted``.
    ``out[name]`` is (signing key, public key file, key id); ``out["NAME.key"]`` the
    private key file."""
    out: dict = {}
    for name in ("alice", "bob", "mallory"):
        private, public, key_id = generate(name, root / "all")
        out[name] = (load_signing_key(str(private)), public, key_id)
        out[f"{name}.key"] = private
    (root / "trusted").mkdir()
    for name in ("alice", "bob"):
        shutil.copy(out[name][1], root / "trusted")
    out["trusted_dir"] = root / "trusted"
    out["root"] = root
    return out


def key(keyring: dict, name: str):
    return keyring[name][0]


def trusted(keyring: dict, **kw) -> TrustPolicy:
    return TrustPolicy(trust=load_trust(keyring["trusted_dir"]), **kw)
