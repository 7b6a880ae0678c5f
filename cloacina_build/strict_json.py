"""Strict JSON for any untrusted document (manifests, registry replies, signatures,
provenance): the one decoder, with no dependency on the workflow model, so the OCI client
and the trust code load it without the rule book."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_INT_DIGITS = 40                            # |n| < 10**40: far past any real value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int_or_fail(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer with more than {MAX_INT_DIGITS} digits")
    return int(text)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def strict_json(data: bytes) -> Any:
    """Strict JSON for any untrusted document: UTF-8, no NaN/Infinity, bounded integers,
    valid Unicode text, bounded nesting.  Raises ``ValueError`` with a short reason."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constants,
                           parse_int=_int_or_fail)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"not valid JSON: {clip(str(exc))}") from None
    if _SURROGATE_ESCAPE.search(data) is None:  # text decoded from UTF-8 has no surrogates;
        return value                            # only a \\uD800-\\uDFFF escape makes one
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        raise ValueError("not valid Unicode text (an unpaired surrogate escape, or nesting "
                         "too deep)") from None
    return value


def clip(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
