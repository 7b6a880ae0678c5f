"""Signature records: what is signed, how it is encoded, and how one is checked.

An embedded signature is a JSON member ``signatures/<key id>.json`` in the trailer::

    {"version": 1, "algorithm": "ed25519", "public_key": <base64 raw 32 bytes>,
     "payload": {"context": "cloacina-package-signature-v1", "package": NAME,
                 "version": VERSION, "digest": <manifest sha256>, "archive": <sha256>,
                 "key_id": <sha256 of the public key>, "signer": NAME,
                 "signed_at": <RFC 3339>, "comment": TEXT},
     "signature": <base64 Ed25519 over the canonical JSON of payload>}

``digest`` (the manifest's sha256) binds every member, since the manifest lists their
digests; ``archive`` is the sha256 of the raw file bytes before the trailer frame, so not a
byte of the signed part can change unnoticed, not even a bit of zstd coding that decodes to
the same content.  The payload is the "trusted comment": signer, time and comment are
signed with the rest.

A detached signature (``FILE.sig``) is the engine's format: JSON with ``version``,
``algorithm``, ``package_hash`` (sha256 of the whole file), ``key_fingerprint``,
``signature`` (Ed25519 over the raw 32-byte sha256 digest of the file) and ``signed_at``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from ..findings import Finding, error
from ..model import SignatureStatus
from ..strict_json import strict_json
from .keys import PublicKey, SigningKey, key_id

CONTEXT = "cloacina-package-signature-v1"
MAX_COMMENT = 1024
MAX_TEXT = 4096  # any text field of a record read from a package
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PAYLOAD_KEYS = {"context", "package", "version", "digest", "archive", "key_id", "signer",
                 "signed_at", "comment"}


class MalformedSignature(Exception):
    pass


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def member_name(key: str) -> str:
    return f"signatures/{key}.json"


def make_record(key: SigningKey, *, package: str, version: str, digest: str, archive: str,
                comment: str = "", signer: str | None = None,
                when: dt.datetime | None = None) -> dict[str, Any]:
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"the comment is longer than {MAX_COMMENT} characters")
    public = key.public
    payload = {"context": CONTEXT, "package": package, "version": version, "digest": digest,
               "archive": archive, "key_id": public.id, "signer": signer or key.name,
               "signed_at": rfc3339(when or now_utc()), "comment": comment}
    return {"version": 1, "algorithm": "ed25519",
            "public_key": base64.b64encode(public.raw).decode(),
            "payload": payload,
            "signature": base64.b64encode(key.sign(canonical(payload))).decode()}


def encode_record(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False).encode() + b"\n"


def _b64(value: Any, what: str, size: int) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * size:
        raise MalformedSignature(f"{what} must be base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise MalformedSignature(f"{what} must decode to {size} bytes")
    return raw


def _load(data: bytes, what: str) -> Any:
    try:
        return strict_json(data)
    except ValueError as exc:
        raise MalformedSignature(f"{what} is {exc}") from None


@dataclass(frozen=True, slots=True)
class SignedPayload:
    """The signed part of an embedded record (the "trusted comment")."""

    context: str
    package: str
    version: str
    digest: str      # sha256 of the manifest bytes
    archive: str     # sha256 of the raw bytes before the trailer frame
    key_id: str
    signer: str
    signed_at: str   # RFC 3339
    comment: str

    def to_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True)
class Record:
    """An embedded signature record, well formed (whether it verifies is ``valid()``)."""

    key: PublicKey
    payload: SignedPayload
    signature: bytes
    member: str = ""

    @property
    def key_id(self) -> str:
        return self.key.id

    @property
    def signed_at(self) -> str:
        return self.payload.signed_at

    def valid(self) -> bool:
        return self.key.verify(self.signature, canonical(self.payload.to_dict()))


@dataclass(frozen=True)
class EmbeddedSignature:
    """One ``signatures/*.json`` member as read: a record, or the findings that say why it
    is not one."""

    member: str
    record: Record | None
    findings: tuple[Finding, ...] = ()


def read_record(data: bytes, name: str) -> EmbeddedSignature:
    """Total: a record, or a ``signature-malformed`` finding, for any bytes."""
    try:
        return EmbeddedSignature(name, parse_record(data, name))
    except MalformedSignature as exc:
        return EmbeddedSignature(name, None, (error("signature-malformed", str(exc), name),))


def read_records(members: list[tuple[str, bytes]]) -> list[EmbeddedSignature]:
    return [read_record(data, name) for name, data in members]


def parse_record(data: bytes, name: str) -> Record:
    """Structure only (raises MalformedSignature); the signature is checked by ``valid``."""
    raw = _load(data, "the signature record")
    if not isinstance(raw, dict) or set(raw) != {"version", "algorithm", "public_key",
                                                 "payload", "signature"}:
        raise MalformedSignature("not a signature record (wrong fields)")
    if raw["version"] != 1 or raw["algorithm"] != "ed25519" or \
            isinstance(raw["version"], bool):
        raise MalformedSignature(f"unsupported version {_short(raw['version'])} or "
                                 f"algorithm {_short(raw['algorithm'])}")
    payload = _payload(raw["payload"])
    public = _b64(raw["public_key"], "public_key", 32)
    if key_id(public) != payload.key_id:
        raise MalformedSignature("key_id does not match the public key")
    if name != member_name(payload.key_id):
        raise MalformedSignature(f"a signature by key {payload.key_id[:16]}... must be "
                                 f"named {member_name(payload.key_id)}")
    return Record(PublicKey(public, payload.signer), payload,
                  _b64(raw["signature"], "signature", 64), name)


def _payload(value: Any) -> SignedPayload:
    if not isinstance(value, dict) or set(value) != _PAYLOAD_KEYS:
        raise MalformedSignature("the signed payload has the wrong fields")
    if value["context"] != CONTEXT:
        raise MalformedSignature(f"unknown signature context {_short(value['context'])}")
    for field in ("package", "version", "signer", "comment", "signed_at"):
        if not isinstance(value[field], str) or len(value[field]) > MAX_TEXT:
            raise MalformedSignature(f"payload.{field} must be a string of at most "
                                     f"{MAX_TEXT} characters")
    for field in ("digest", "archive", "key_id"):
        if not isinstance(value[field], str) or not _HEX64.fullmatch(value[field]):
            raise MalformedSignature(f"payload.{field} must be 64 hex digits")
    try:
        parse_time(value["signed_at"])
    except ValueError:
        raise MalformedSignature("payload.signed_at is not an RFC 3339 time") from None
    return SignedPayload(**{k: value[k] for k in SignedPayload.__slots__})


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------ detached (engine format)


def make_detached(key: SigningKey, file_sha256: str, when: dt.datetime | None = None
                  ) -> dict[str, Any]:
    digest = bytes.fromhex(file_sha256)
    return {"version": 1, "algorithm": "ed25519", "package_hash": file_sha256,
            "key_fingerprint": key.public.id,
            "signature": base64.b64encode(key.sign(digest)).decode(),
            "signed_at": rfc3339(when or now_utc())}


@dataclass(frozen=True)
class Detached:
    package_hash: str
    key_id: str
    signature: bytes
    signed_at: str

    def valid_with(self, key: PublicKey) -> bool:
        return key.verify(self.signature, bytes.fromhex(self.package_hash))


def parse_detached(data: bytes) -> Detached:
    raw = _load(data, "the detached signature")
    need = {"version", "algorithm", "package_hash", "key_fingerprint", "signature",
            "signed_at"}
    if not isinstance(raw, dict) or not need <= set(raw):
        have = set(raw) if isinstance(raw, dict) else set()
        raise MalformedSignature("the detached signature lacks "
                                 + ", ".join(sorted(need - have)))
    if raw["version"] != 1 or raw["algorithm"] != "ed25519" or \
            isinstance(raw["version"], bool):
        raise MalformedSignature("unsupported detached signature version or algorithm")
    for field in ("package_hash", "key_fingerprint"):
        if not isinstance(raw[field], str) or not _HEX64.fullmatch(raw[field].lower()):
            raise MalformedSignature(f"{field} must be 64 hex digits")
    if not isinstance(raw["signed_at"], str) or len(raw["signed_at"]) > MAX_TEXT:
        raise MalformedSignature("signed_at must be a string")
    return Detached(raw["package_hash"].lower(), raw["key_fingerprint"].lower(),
                    _b64(raw["signature"], "signature", 64), raw["signed_at"])


def read_detached(data: bytes, where: str) -> tuple[Detached | None, list[Finding]]:
    """Total: a detached signature, or a ``signature-malformed`` finding."""
    try:
        return parse_detached(data), []
    except MalformedSignature as exc:
        return None, [error("signature-malformed", str(exc), where)]


# ------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class SignatureVerdict:
    """What was concluded about one signature (embedded or detached)."""

    member: str
    status: SignatureStatus
    key_id: str | None = None
    signer: str | None = None
    signed_at: str | None = None
    comment: str | None = None
    detached: bool = False

    @classmethod
    def of(cls, record: Record, status: SignatureStatus) -> SignatureVerdict:
        p = record.payload
        return cls(record.member, status, record.key_id, p.signer, p.signed_at, p.comment)

    @property
    def well_formed(self) -> bool:
        return self.key_id is not None

    def to_dict(self) -> dict[str, Any]:
        if not self.well_formed:
            return {"member": self.member, "status": self.status.value}
        out: dict[str, Any] = {"member": self.member, "key_id": self.key_id,
                               "signer": self.signer, "signed_at": self.signed_at,
                               "comment": self.comment, "status": self.status.value}
        if self.detached:
            out["detached"] = True
        return out
