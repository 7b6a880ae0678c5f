"""Text the tool writes out, safe whatever a package put in it.

Strings from packages and projects (names, messages, member paths) are data.  Two rules
hold for every output, whichever layer makes it:

- :func:`visible`: control characters (C0, C1, DEL), the line and paragraph separators,
  the bidirectional controls, and lone surrogates (the bytes of a tar member name that
  were not UTF-8, kept by ``surrogateescape``) are shown as ``\\x1b``-style escapes, so a
  string can neither drive a terminal nor break a line, and the text always encodes as
  UTF-8;
- :func:`json_text`: JSON with non-ASCII text kept as it is, but a lone surrogate written
  as a ``\\udcff`` escape, so the document is valid UTF-8 (``json.dumps`` with
  ``ensure_ascii=False`` would pass it through, and writing it would fail).
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, the line and paragraph separators, every bidirectional control
# (embeddings, overrides, isolates, and the marks ALM, LRM, RLM), and lone surrogates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible(text: str) -> str:
    """``text`` with every control character, line break and lone surrogate escaped."""
    return _CONTROL.sub(_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(data: Any, *, indent: bool = False) -> str:
    """``data`` as JSON with sorted keys (indented by two when ``indent``); values JSON
    does not know, such as paths, as text; lone surrogates as ``\\uXXXX`` escapes (they
    can only stand inside strings, where the escape means the same)."""
    import json  # not at import time: the terminal needs visible() at start-up, not JSON

    text = json.dumps(data, indent=2 if indent else None, sort_keys=True,
                      ensure_ascii=False, default=str)
    if text.isascii():  # the usual case, at no cost (the string knows it)
        return text
    try:
        text.encode("utf-8")  # C speed; a regex pass over 10 MB of JSON takes 80 ms
    except UnicodeEncodeError:
        return _SURROGATE.sub(_json_escape, text)
    return text
