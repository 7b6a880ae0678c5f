"""canonical.dumps writes exactly the bytes of the standard library's indenting encoder."""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloacina_build.canonical import dumps

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**50), 10**50)
    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25)


def reference(value) -> bytes:
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_same_bytes_as_json_dumps(value):
    assert dumps(value) == reference(value)


def test_subclasses_are_written_as_their_base():
    class Colour(StrEnum):
        RED = "red"

    class Level(IntEnum):
        HIGH = 3

    value = {"c": Colour.RED, "l": Level.HIGH, "t": (1, [2.5, {}], []), "e": {}}
    assert dumps(value) == reference(value)


@pytest.mark.parametrize("bad, error", [(float("nan"), ValueError),
                                        (float("inf"), ValueError), (object(), TypeError),
                                        ({1: "x"}, TypeError)])
def test_what_json_cannot_hold_is_refused(bad, error):
    with pytest.raises(error):
        dumps([bad])
