"""Writing text for people without letting a package drive the terminal.

Every string that came from a package, a signature or a task (names, descriptions,
comments, error messages, tracebacks) is data.  Control characters, and the Unicode
controls that reorder or break lines, are shown escaped (``\\x1b``, ``\\u202e``) so that no
string can clear the screen, recolour text, set the window title or fake a line such as
"signature verified".  Line breaks the tool itself writes are kept.  JSON output is not
touched: it is exact, and its encoder escapes control characters already.

Colour (:func:`paint`) is added last, to text already made :func:`printable`, and only to
the words the tool itself puts at the start of a line (``error:``, ``warning[code]``,
``hint:``, ``valid:``...): a package's string can neither carry colour nor be coloured.
"""

from __future__ import annotations

import os
import re
import sys

import click

from ..safe_text import visible

_SHOWN: dict[str, str] = {}  # a file this command made for the user -> what they gave


_SHOWN_PATTERN: list[re.Pattern[str]] = []


def show_as(shown: dict[str, str]) -> None:
    """For this command, messages name each path in ``shown`` (a file in the cache, say)
    by its value (the ``oci://`` reference the user gave): whole paths only, never the
    start of a longer name."""
    _SHOWN.clear()
    _SHOWN.update(shown)
    _SHOWN_PATTERN[:] = [re.compile("(?:" + "|".join(
        re.escape(p) for p in sorted(shown, key=len, reverse=True)) + r")(?![\w.\-])")] \
        if shown else []


def printable(text: str) -> str:
    """``text`` with every control character escaped (newlines too: one line stays one),
    and every lone surrogate, so that it always encodes (``safe_text.visible``); files
    registered with :func:`show_as` are named as the user knows them."""
    for pattern in _SHOWN_PATTERN:
        text = pattern.sub(lambda m: _SHOWN[m.group(0)], text)
    return visible(text)


def echo_text(text: str, err: bool = False) -> None:
    """Lines for people: each line made :func:`printable`, the line breaks kept."""
    click.echo("\n".join(printable(line) for line in text.split("\n")), err=err)


def at_terminal(stream) -> bool:
    """``stream`` is a terminal that takes control sequences: a tty, and not ``TERM=dumb``."""
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def colour_on(err: bool = False) -> bool:
    """Colour for standard output (or error): only at a terminal, and neither under
    ``NO_COLOR`` (any non-empty value, see no-color.org) nor with ``TERM=dumb``."""
    return not os.environ.get("NO_COLOR") and at_terminal(sys.stderr if err else sys.stdout)


# word -> (colour, bold)
_STYLES: dict[str, tuple[str, bool | None]] = {
    "error": ("red", True), "invalid": ("red", True), "not verified": ("red", True),
    "warning": ("yellow", True), "hint": ("green", None), "valid": ("green", True),
    "verified": ("green", True)}
# a severity and a finding's [code], or a word and its colon: at the start of a line
_LEAD = re.compile(r"^(?P<tok>(?P<word>error|warning)\[[a-z0-9-]+\]|"
                   r"(?P<word2>error|warning|hint|valid|invalid|verified|not verified):)(?= )",
                   re.MULTILINE)
# in an error's diagnostics, its findings are indented by two spaces
_FINDING = re.compile(r"^  (?P<tok>(?P<word>error|warning)\[[a-z0-9-]+\])(?= )",
                      re.MULTILINE)


def _style(match: re.Match[str]) -> str:
    word = match.group("word") or match.group("word2")
    start = match.start("tok") - match.start()
    fg, bold = _STYLES[word]
    return match.group()[:start] + click.style(match.group("tok"), fg=fg, bold=bold)


def paint(text: str, err: bool = False, findings: bool = False) -> str:
    """``text`` (already :func:`printable`, line by line) with the tool's words at the
    start of its lines coloured, when :func:`colour_on`.  ``findings``: the text is an
    error's diagnostics, whose indented lines are findings (elsewhere an indented line
    may start with a package's string, such as a signer's name, and is never coloured)."""
    if not colour_on(err):
        return text
    text = _LEAD.sub(_style, text)
    return _FINDING.sub(_style, text) if findings else text
