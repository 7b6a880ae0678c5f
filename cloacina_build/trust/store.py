"""Trust: which public keys may sign, until when, and which are revoked.

A trust source is a directory of ``.pub`` files (each trusted, named after its file) or a
TOML trust file::

    version = 1

    [[keys]]
    name = "release-2026"
    path = "keys/release-2026.pub"      # or: public_key = '''-----BEGIN PUBLIC KEY-----...'''
    id = "3f2a..."                      # optional; checked against the key when given
    expires = 2027-06-30T00:00:00Z      # optional; after this the key verifies nothing
    revoked = false                     # optional
    revoked_reason = "laptop stolen"    # optional

    [[revoked]]                         # keys refused whether or not they are listed above
    id = "9c1e..."
    reason = "leaked in a CI log"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import did_you_mean
from .keys import KeyError_, PublicKey, load_public_pem

_KEY_FIELDS = ("name", "path", "public_key", "id", "expires", "revoked", "revoked_reason")


class TrustError(KeyError_):
    code = "trust"
    default_hint = ("--trust takes a directory of .pub files, one .pub file or a TOML trust file "
                    "(docs/signing.md, 'Verifying')")


@dataclass(frozen=True)
class TrustedKey:
    key: PublicKey
    expires: dt.datetime | None = None
    revoked: bool = False
    revoked_reason: str | None = None

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def name(self) -> str:
        return self.key.name


@dataclass(frozen=True)
class KeyStanding:
    """A found, trusted key's standing at a moment: revoked (``reason``, if one was given),
    else expired (at ``expired_at``), else good."""

    revoked: bool = False
    reason: str | None = None
    expired_at: dt.datetime | None = None


@dataclass
class TrustStore:
    keys: dict[str, TrustedKey] = field(default_factory=dict)  # by key id
    revoked: dict[str, str | None] = field(default_factory=dict)  # key id -> reason
    source: str = ""

    def add(self, trusted: TrustedKey) -> None:
        if trusted.id in self.keys:
            raise TrustError(f"{self.source}: key '{trusted.name}' is listed twice (as "
                             f"'{self.keys[trusted.id].name}' too)")
        self.keys[trusted.id] = trusted

    def lookup(self, key_id: str) -> TrustedKey | None:
        return self.keys.get(key_id)

    def revocation(self, key_id: str) -> tuple[bool, str | None]:
        if key_id in self.revoked:
            return True, self.revoked[key_id]
        trusted = self.keys.get(key_id)
        if trusted and trusted.revoked:
            return True, trusted.revoked_reason
        return False, None

    def standing(self, trusted: TrustedKey, now: dt.datetime) -> KeyStanding:
        """``trusted``'s standing at ``now``: revocation first, then expiry."""
        revoked, reason = self.revocation(trusted.id)
        if revoked:
            return KeyStanding(revoked=True, reason=reason)
        if trusted.expires and now > trusted.expires:
            return KeyStanding(expired_at=trusted.expires)
        return KeyStanding()

    @classmethod
    def from_keys(cls, *keys: PublicKey) -> TrustStore:
        store = cls(source="keys")
        for key in keys:
            store.add(TrustedKey(key))
        return store


def load_trust(path: Path | str) -> TrustStore:
    """A directory of ``.pub`` files, one ``.pub`` file (a store of that key), or a TOML
    trust file (expiry and revocation)."""
    path = Path(path)
    if path.is_dir():
        return _from_directory(path)
    if path.is_file() and path.suffix == ".pub":
        store = TrustStore(source=str(path))
        store.add(_public_file(path))
        return store
    if path.is_file():
        return _from_file(path)
    raise TrustError(f"no trust directory or file at {path}",
                     hint="pass a directory of .pub files, one .pub file or a TOML trust "
                          "file")


def _public_file(pub: Path) -> TrustedKey:
    if pub.stat().st_size > 64 * 1024:
        raise TrustError(f"{pub} is too large to be a public key")
    data = pub.read_bytes()
    if b"PRIVATE KEY-----" in data[:200]:
        raise _private(pub)
    try:
        return TrustedKey(load_public_pem(data, pub.stem, str(pub)))
    except KeyError_ as exc:  # its hint is about passphrases, which trust never needs
        raise TrustError(exc.message, hint="a trusted key is the .pub file 'cloacinactl key "
                         "generate' wrote beside the signer's .key") from None


def _private(path: Path) -> TrustError:
    return TrustError(f"{path} is a private key, not a public one",
                      hint="trust its .pub (written beside it by 'cloacinactl key "
                           "generate'); a private key never leaves its signer")


def _from_directory(path: Path) -> TrustStore:
    store = TrustStore(source=str(path))
    for pub in sorted(path.glob("*.pub")):
        store.add(_public_file(pub))
    if not store.keys:
        private = sorted(p.name for p in path.glob("*.key"))
        raise TrustError(f"{path} holds no .pub files" + (
            f" (only private keys: {', '.join(private[:3])})" if private else ""),
            hint="copy the signers' .pub files there (never their .key files), or pass a "
                 "trust file")
    return store


def _starts_pem(path: Path) -> str | None:
    """``"private"``, ``"public"`` (any other PEM) or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if not head.startswith(b"-----BEGIN "):
        return None
    return "private" if b"PRIVATE KEY-----" in head else "public"


def _from_file(path: Path) -> TrustStore:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(path.read_text("utf-8")).unwrap()
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        pem = _starts_pem(path)
        if pem == "private":
            raise _private(path) from None
        if pem:
            raise TrustError(f"{path} is a PEM key, not a trust file",
                             hint="name a public key NAME.pub to trust it alone, or put it "
                                  "in a directory of .pub files") from None
        raise TrustError(f"{path} is not a readable TOML trust file: {exc}") from None
    store = TrustStore(source=str(path))
    unknown = sorted(set(doc) - {"version", "keys", "revoked"})
    if unknown:
        raise TrustError(f"{path}: unknown key '{unknown[0]}'"
                         f"{did_you_mean(unknown[0], ['version', 'keys', 'revoked'])}")
    if doc.get("version", 1) != 1:
        raise TrustError(f"{path}: trust file version {doc.get('version')!r} is not supported")
    for i, entry in enumerate(_list(doc, "keys", path)):
        store.add(_key_entry(entry, i, path))
    for i, entry in enumerate(_list(doc, "revoked", path)):
        key_id = entry.get("id")
        if not isinstance(key_id, str) or len(key_id) != 64:
            raise TrustError(f"{path}: [[revoked]] entry {i + 1} needs an id (64 hex digits)")
        store.revoked[key_id.lower()] = entry.get("reason")
    if not store.keys:
        raise TrustError(f"{path} lists no [[keys]]")
    return store


def _list(doc: dict, name: str, path: Path) -> list[dict]:
    value = doc.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TrustError(f"{path}: '{name}' must be an array of tables ([[{name}]])")
    return value


def _key_entry(entry: dict, i: int, path: Path) -> TrustedKey:
    where = f"{path}: [[keys]] entry {i + 1}"
    unknown = sorted(set(entry) - set(_KEY_FIELDS))
    if unknown:
        raise TrustError(f"{where}: unknown key '{unknown[0]}'"
                         f"{did_you_mean(unknown[0], _KEY_FIELDS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise TrustError(f"{where} needs a name")
    if ("path" in entry) == ("public_key" in entry):
        raise TrustError(f"{where} ('{name}') needs exactly one of path or public_key")
    if "path" in entry:
        key_path = (path.parent / str(entry["path"])).resolve()
        try:
            pem = key_path.read_bytes()
        except OSError as exc:
            raise TrustError(f"{where} ('{name}'): cannot read {key_path}: "
                             f"{exc.strerror}") from None
    else:
        pem = str(entry["public_key"]).encode("utf-8")
    try:
        key = load_public_pem(pem, name, f"{where} ('{name}')")
    except KeyError_ as exc:
        raise TrustError(exc.message) from None
    if "id" in entry and str(entry["id"]).lower() != key.id:
        raise TrustError(f"{where} ('{name}'): id {entry['id']} does not match the key "
                         f"(its id is {key.id})")
    expires = entry.get("expires")
    if expires is not None:
        expires = _datetime(expires, f"{where} ('{name}'): expires")
    revoked = entry.get("revoked", False)
    if not isinstance(revoked, bool):
        raise TrustError(f"{where} ('{name}'): revoked must be true or false")
    return TrustedKey(key, expires, revoked, entry.get("revoked_reason"))


def _datetime(value, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise TrustError(f"{what} {value!r} is not an RFC 3339 date-time") from None
    else:
        raise TrustError(f"{what} must be a date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
