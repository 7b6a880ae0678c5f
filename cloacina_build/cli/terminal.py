"""Writing text for people without letting a package drive the terminal.

Every string that came from a package, a signature or a task (names, descriptions,
comments, error messages, tracebacks) is data.  Control characters, and the Unicode
controls that reorder or break lines, are shown escaped (``\\x1b``, ``\\u202e``) so that no
string can clear the screen, recolour text, set the window title or fake a line such as
"signature verified".  Line breaks the tool itself writes are kept.  JSON output is not
touched: it is exact, and its encoder escapes control characters already.
"""

from __future__ import annotations

import re

import click

# C0 and C1 controls, DEL, the line and paragraph separators, and every bidirectional
# control (embeddings, overrides, isolates, and the marks ALM, LRM, RLM)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character escaped (newlines too: one line stays one)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def echo_text(text: str, err: bool = False) -> None:
    """Lines for people: each line made :func:`printable`, the line breaks kept."""
    click.echo("\n".join(printable(line) for line in text.split("\n")), err=err)
