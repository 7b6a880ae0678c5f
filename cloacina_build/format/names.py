"""Member names: the rules an archive or wheel path must follow to be accepted."""

from __future__ import annotations

import re
import unicodedata

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME = 255


def name_problem(name: str) -> tuple[str, str] | None:
    """``(code, message)`` for an unacceptable member name, or None when it is fine."""
    if not name:
        return "member-name-empty", "empty member name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "member-name-control", f"member name {name!r} contains control characters"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):  # tar bytes decoded surrogateescape
        return "member-name-encoding", f"member name {name!r} is not valid UTF-8"
    if name.startswith("/"):
        return "member-name-absolute", f"absolute member name {name!r}"
    if "\\" in name:
        return "member-name-backslash", f"member name {name!r} contains a backslash"
    if _DRIVE.match(name):
        return "member-name-drive", f"member name {name!r} starts with a drive letter"
    parts = name.split("/")
    if ".." in parts:
        return "member-name-parent", f"member name {name!r} climbs out with '..'"
    if "" in parts or "." in parts or unicodedata.normalize("NFC", name) != name:
        return "member-name-not-normalised", f"member name {name!r} is not in normal form " \
            "(no '.', empty or trailing components; NFC Unicode)"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
        return "member-name-too-long", f"member name is longer than {MAX_NAME} bytes"
    return None


class NameSet:
    """Tracks names seen so far to find duplicates and case collisions."""

    def __init__(self) -> None:
        self._exact: set[str] = set()
        self._folded: dict[str, str] = {}

    def add(self, name: str) -> tuple[str, str] | None:
        if name in self._exact:
            return "member-name-duplicate", f"member {name!r} appears twice"
        folded = unicodedata.normalize("NFC", name).casefold()
        if folded in self._folded:
            return "member-name-case-collision", \
                f"member {name!r} differs from {self._folded[folded]!r} only by case"
        self._exact.add(name)
        self._folded[folded] = name
        return None
