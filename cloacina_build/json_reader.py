"""A total reader of untrusted JSON into typed fields, the machinery behind the manifest
parser: a :class:`Reader` whose field readers turn every problem into a finding instead of
an exception, over :func:`~cloacina_build.strict_json.strict_json` documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from . import rulebook as rb
from .errors import did_you_mean
from .findings import Finding, error
from .strict_json import clip

MAX_FINDINGS = 100
T = TypeVar("T")


class Stop(Exception):
    """Too many findings: stop reading (the cap keeps hostile input cheap)."""


class Invalid(Exception):
    """This field is wrong (already reported); skip the object holding it."""


class Reader:
    """Field readers over an untrusted JSON document.  A wrong field is reported once (as a
    finding with ``code`` at ``location``) and raises :class:`Invalid`, which the reader
    of the enclosing object catches, so one bad field does not hide the others."""

    def __init__(self, code: str, location: str) -> None:
        self.code, self.location = code, location
        self.findings: list[Finding] = []

    def fail(self, path: str, message: str) -> Invalid:
        field = f"'{path}'" if path else "the document"
        return self.report(f"{field}: {clip(message)}")

    def report(self, message: str) -> Invalid:
        if len(self.findings) >= MAX_FINDINGS:
            raise Stop
        self.findings.append(error(self.code, message, self.location))
        return Invalid()

    def obj(self, value: Any, path: str, required: tuple[str, ...],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, not {kind(value)}")
        for key in sorted(set(value) - set(required) - set(optional)):
            where = f"[{path}]" if path else "the top level"
            self.report(f"unknown key {quoted(key)} in {where}"
                        f"{did_you_mean(key, required + optional)}")
        bad = False
        for key in required:
            if key not in value:
                self.fail(path, f"'{key}' is a required property")
                bad = True
        if bad:
            raise Invalid()
        return value

    def text(self, value: Any, path: str, max_len: int, *, nullable: bool = False,
             min_len: int = 0) -> Any:
        if value is None and nullable:
            return None
        if not rb.is_text(value, max_len) or len(value) < min_len:
            raise self.fail(path, f"must be a string of {min_len} to {max_len} characters, "
                            f"not {kind(value)}")
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if not rb.is_int(value) or not low <= value <= high:
            raise self.fail(path, f"must be an integer from {low} to {high}, not "
                            f"{kind(value)}")
        return value

    def boolean(self, value: Any, path: str, *, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {kind(value)}")
        return value

    def choice(self, value: Any, path: str, allowed: tuple[Any, ...]) -> Any:
        if isinstance(value, (bool, float)) or value not in allowed:
            raise self.fail(path, f"must be one of {', '.join(map(str, allowed))}, not "
                            f"{kind(value)}")
        return value

    def array(self, value: Any, path: str, max_items: int, item: Callable[[Any, str], T],
              min_items: int = 0) -> tuple[T, ...]:
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise self.fail(path, f"must be an array of {min_items} to {max_items} items, "
                            f"not {kind(value)}")
        out: list[T] = []
        bad = False
        for i, entry in enumerate(value):
            try:
                out.append(item(entry, f"{path}.{i}"))
            except Invalid:
                bad = True
        if bad:
            raise Invalid()
        return tuple(out)

    def rule(self, call: Callable[[], T], path: str) -> T:
        try:
            return call()
        except rb.RuleViolation as v:
            raise self.fail(path, v.message) from None

    def canonical(self, model: Any, raw: Any, path: str) -> Any:
        """The model, if ``raw`` is exactly how it serialises: the rule book accepts
        spellings a manifest may not use (``"FIXED"``, ``"=="``, a bare condition)."""
        if model.to_dict() != raw:
            raise self.fail(path, "is not in the canonical form (as the builder writes it: "
                            f"{clip(json.dumps(model.to_dict()))})")
        return model

    def each(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run every field reader, so one bad field does not hide the others."""
        out, bad = [], False
        for call in calls:
            try:
                out.append(call())
            except Invalid:
                bad = True
                out.append(None)
        if bad:
            raise Invalid()
        return out


def quoted(key: str) -> str:
    """A key from the document, quoted; escaped when it is not plain printable text."""
    return f"'{clip(key)}'" if key.isprintable() else clip(repr(key))


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if len(repr(value)) <= 24 else "a large number"
    if isinstance(value, str):
        return f"the string {clip(repr(value))}" if len(value) <= 40 else "a long string"
    return {type(None): "null", list: "an array", dict: "an object"}.get(type(value),
                                                                        "a value")
