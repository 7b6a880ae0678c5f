"""DSSE, the Dead Simple Signing Envelope (v1.0): the signed wrapper of an attestation.

An envelope is one JSON object::

    {"payloadType": "application/vnd.in-toto+json",
     "payload": <base64 of the serialized body>,
     "signatures": [{"keyid": <this tool's key id>, "sig": <base64 Ed25519 signature>}]}

and each signature is over the *pre-authentication encoding* of the type and the body::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

(``LEN`` the decimal byte length, no leading zeros; ``type`` UTF-8), so a signature made
for one payload type can never be passed off as one for another.  ``keyid`` is this tool's
key id (the sha256 of the raw public key, :func:`~.keys.key_id`); DSSE makes it a hint
only, so a verifier tries the key it names and, failing that, every trusted key.

:func:`parse_envelope` is total: any bytes give an :class:`Envelope` or findings, never an
exception.  It reads at most :data:`MAX_ENVELOPE` bytes of strict JSON (no NaN,
bounded integers and nesting, valid Unicode), base64 in either RFC 4648
alphabet (DSSE says verifiers must accept both) but only in its canonical padded form, and
checks every field's type; unknown fields are ignored, as DSSE requires.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from ..findings import Finding, error
from ..strict_json import clip, strict_json
from .keys import SigningKey

IN_TOTO = "application/vnd.in-toto+json"
MAX_ENVELOPE = 1 << 20          # bytes of a whole envelope file
MAX_SIGNATURES = 16
MAX_SIG_BYTES = 1024            # an Ed25519 signature is 64; other algorithms stay small too
MAX_KEYID = 256
MAX_PAYLOAD_TYPE = 256
MALFORMED = "provenance-malformed"

_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload_type`` and ``body``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


class Malformed(ValueError):
    """An envelope that cannot be read (the message says why)."""


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str          # "" when the envelope leaves it unset
    sig: bytes

    def to_dict(self) -> dict[str, str]:
        return {"keyid": self.keyid, "sig": base64.b64encode(self.sig).decode("ascii")}


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_dict(self) -> dict[str, Any]:
        return {"payloadType": self.payload_type,
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "signatures": [s.to_dict() for s in self.signatures]}


def sign_envelope(payload: bytes, key: SigningKey, payload_type: str = IN_TOTO) -> Envelope:
    """An envelope of ``payload`` with one Ed25519 signature by ``key``."""
    signature = key.sign(pae(payload_type, payload))
    return Envelope(payload_type, payload, (EnvelopeSignature(key.public.id, signature),))


def envelope_bytes(envelope: Envelope) -> bytes:
    """The envelope as one line of JSON Lines (``FILE.intoto.jsonl``), newline-terminated."""
    return json.dumps(envelope.to_dict(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii") + b"\n"


def b64decode_strict(value: Any, what: str, limit: int) -> bytes:
    """Base64 in the standard or the URL-safe alphabet, padded, canonical (the unused bits
    of the last character are zero), decoding to at most ``limit`` bytes."""
    if not isinstance(value, str):
        raise Malformed(f"{what} must be base64 text, not {_kind(value)}")
    if len(value) > (limit + 2) // 3 * 4:
        raise Malformed(f"{what} is longer than {limit:,} bytes")
    if len(value) % 4:
        raise Malformed(f"{what} is not padded base64 (its length is not a multiple of 4)")
    if _STANDARD.fullmatch(value):
        altchars = None
    elif _URL_SAFE.fullmatch(value):
        altchars = b"-_"
    else:
        raise Malformed(f"{what} is not base64 (a character outside either alphabet, or "
                        "the two alphabets mixed)")
    try:
        raw = base64.b64decode(value, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(f"{what} is not valid base64") from None
    if base64.b64encode(raw, altchars=altchars).decode("ascii") != value:
        raise Malformed(f"{what} is not in canonical base64 form")
    return raw


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "text", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def parse_envelope(data: bytes, where: str = "") -> tuple[Envelope | None, list[Finding]]:
    """Total: an envelope, or one finding (``MALFORMED`` at ``where``) saying why not."""
    try:
        return _parse(data), []
    except Malformed as exc:
        return None, [error(MALFORMED, clip(str(exc)), where or None)]


def _parse(data: bytes) -> Envelope:
    if len(data) > MAX_ENVELOPE:
        raise Malformed(f"the envelope is larger than {MAX_ENVELOPE:,} bytes")
    try:
        raw = strict_json(data)
    except ValueError as exc:
        if b"\n" in data.strip():
            raise Malformed("not one JSON envelope on one line (one envelope is expected "
                            "per file)") from None
        raise Malformed(f"the envelope is {exc}") from None
    if not isinstance(raw, dict):
        raise Malformed(f"the envelope must be a JSON object, not {_kind(raw)}")
    for need in ("payloadType", "payload", "signatures"):
        if need not in raw:
            raise Malformed(f"the envelope has no '{need}'")
    kind = raw["payloadType"]
    if not isinstance(kind, str) or len(kind) > MAX_PAYLOAD_TYPE:
        raise Malformed(f"'payloadType' must be text of at most {MAX_PAYLOAD_TYPE} "
                        "characters")
    payload = b64decode_strict(raw["payload"], "'payload'", MAX_ENVELOPE)
    return Envelope(kind, payload, _signatures(raw["signatures"]))


def _signatures(value: Any) -> tuple[EnvelopeSignature, ...]:
    if not isinstance(value, list):
        raise Malformed(f"'signatures' must be an array, not {_kind(value)}")
    if not value:
        raise Malformed("'signatures' is empty: the envelope is not signed")
    if len(value) > MAX_SIGNATURES:
        raise Malformed(f"more than {MAX_SIGNATURES} signatures")
    out = []
    for i, item in enumerate(value):
        where = f"'signatures[{i}]'"
        if not isinstance(item, dict):
            raise Malformed(f"{where} must be an object, not {_kind(item)}")
        if "sig" not in item:
            raise Malformed(f"{where} has no 'sig'")
        keyid = item.get("keyid")
        if keyid is None:
            keyid = ""  # unset, null and empty mean the same
        if not isinstance(keyid, str) or len(keyid) > MAX_KEYID:
            raise Malformed(f"{where}.keyid must be text of at most {MAX_KEYID} characters")
        sig = b64decode_strict(item["sig"], f"{where}.sig", MAX_SIG_BYTES)
        if not sig:
            raise Malformed(f"{where}.sig is empty")
        out.append(EnvelopeSignature(keyid, sig))
    return tuple(out)


__all__ = ["IN_TOTO", "MAX_ENVELOPE", "Envelope", "EnvelopeSignature", "b64decode_strict",
           "envelope_bytes", "pae", "parse_envelope", "sign_envelope"]
