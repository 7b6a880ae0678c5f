"""Ed25519 keys: generate, load (file, environment variable, standard input), identify.

A key's id is the sha256 hex of its raw 32-byte public key, the engine's key fingerprint.
Key material is never printed, logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CloacinaError, UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PASSPHRASE_ENV = "CLOACINA_KEY_PASSPHRASE"


class KeyError_(CloacinaError):  # noqa: N801 - not the builtin KeyError
    """A key cannot be read or used (exit 2: it is the caller's environment)."""

    exit_code = 2
    code = "key"
    default_hint = ("a key is a PEM file, env:VAR or - (standard input); an encrypted key "
                    "needs --passphrase-file, --passphrase-env or CLOACINA_KEY_PASSPHRASE")


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    raw: bytes
    name: str

    @property
    def id(self) -> str:
        return key_id(self.raw)

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    _key: Any  # Ed25519PrivateKey; kept private so it is never rendered
    name: str

    def __repr__(self) -> str:
        return f"SigningKey(name={self.name!r}, id={self.public.id[:16]}...)"

    @property
    def public(self) -> PublicKey:
        from cryptography.hazmat.primitives import serialization

        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
        return PublicKey(raw, self.name)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


@dataclass(frozen=True)
class GeneratedKey:
    """A key pair just written by :func:`generate_pair`."""

    name: str
    key_id: str
    private_key: Path
    public_key: Path
    encrypted: bool

    def to_dict(self) -> dict[str, object]:
        return {"ok": True, "name": self.name, "id": self.key_id,
                "private_key": str(self.private_key), "public_key": str(self.public_key),
                "encrypted": self.encrypted}


def generate_pair(name: str, out_dir: Path | str, *, passphrase: bytes | None = None
                  ) -> GeneratedKey:
    """:func:`generate`, as an object that says what was written."""
    private, public, kid = generate(name, Path(out_dir), passphrase=passphrase)
    return GeneratedKey(name, kid, private, public, passphrase is not None)


def generate(name: str, out_dir: Path, *, passphrase: bytes | None = None
             ) -> tuple[Path, Path, str]:
    """Write ``NAME.key`` (PKCS#8 PEM, 0600) and ``NAME.pub``; refuses to overwrite."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    check_name(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path} already exists; refusing to overwrite a key",
                             hint="choose another name or directory")
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink()
        raise
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return private_path, public_path, key_id(raw)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fd)
    finally:
        os.close(fd)


def read_source(spec: str) -> tuple[bytes, str]:
    """PEM bytes and a default name from ``PATH``, ``env:VAR`` or ``-`` (standard input)."""
    if spec == "-":
        return sys.stdin.buffer.read(64 * 1024), "stdin"
    if spec.startswith("env:"):
        var = spec[4:]
        value = os.environ.get(var)
        if not value:
            raise KeyError_(f"environment variable {var} is not set or empty",
                            hint=f"export the PEM text of the key as {var}")
        return value.encode("utf-8"), var.lower()
    if "PRIVATE KEY" in spec or "\n" in spec or len(spec) > 4096:
        raise KeyError_("the key argument looks like key text, not a path; it is not shown",
                        hint="pass the PEM text through env:VAR or standard input (-)")
    path = Path(spec)
    if not path.is_file():
        raise KeyError_(f"no key file at {path}", hint="pass a key file, env:VAR or -")
    if path.stat().st_size > 64 * 1024:
        raise KeyError_(f"{path} is too large to be a key file")
    return path.read_bytes(), path.stem


def read_passphrase(passphrase_file: str | None, passphrase_env: str | None) -> bytes | None:
    if passphrase_file:
        try:
            data = Path(passphrase_file).read_bytes()
        except OSError as exc:
            raise KeyError_(f"cannot read the passphrase file: {exc.strerror}") from None
        return data.rstrip(b"\r\n")
    var = passphrase_env or PASSPHRASE_ENV
    value = os.environ.get(var)
    return value.encode("utf-8") if value else None


def load_signing_key(spec: str, *, passphrase: bytes | None = None, name: str | None = None,
                     prompt=None) -> SigningKey:
    """Load a private key; ``prompt()`` is asked for a passphrase only when one is needed
    and none was given (the CLI passes one only when standard input is a terminal)."""
    pem, default_name = read_source(spec)
    where = "standard input" if spec == "-" else spec
    return _private_from_pem(pem, name or default_name, where, passphrase, prompt,
                             explicit_name=name is not None)


def _private_from_pem(pem: bytes, name: str, where: str, passphrase, prompt, *,
                      explicit_name: bool = False) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if b"PRIVATE KEY" not in pem:
        raise KeyError_(f"{where} does not hold a PEM private key",
                        hint="pass the .key file, not the .pub file")
    encrypted = b"ENCRYPTED PRIVATE KEY" in pem
    if encrypted and passphrase is None:
        if prompt is None:
            raise KeyError_(f"the key in {where} is encrypted and no passphrase was given",
                            hint=f"use --passphrase-file or set {PASSPHRASE_ENV}")
        passphrase = prompt()
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase if encrypted
                                                 else None)
    except (ValueError, TypeError):
        what = "wrong passphrase or a damaged key" if encrypted else "not a valid key"
        raise KeyError_(f"cannot load the key in {where}: {what}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"the key in {where} is not an Ed25519 key")
    if explicit_name:
        return SigningKey(key, check_name(name))
    signing = SigningKey(key, "key")
    default = f"key-{signing.public.id[:12]}" if name == "stdin" else _safe_name(name)
    return SigningKey(key, default)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-._")[:64]
    return cleaned or "key"


def load_public_pem(pem: bytes, name: str, where: str) -> PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise KeyError_(f"{where} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(f"{where} is not an Ed25519 public key")
    return PublicKey(key.public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw), name)


def load_any_public(spec: str, *, passphrase: bytes | None = None, prompt=None) -> PublicKey:
    """The public half of a .pub or .key file (for ``key show``)."""
    pem, default_name = read_source(spec)
    where = "standard input" if spec == "-" else spec
    if b"PRIVATE KEY" in pem:
        return _private_from_pem(pem, default_name, where, passphrase, prompt).public
    return load_public_pem(pem, _safe_name(default_name), where)
