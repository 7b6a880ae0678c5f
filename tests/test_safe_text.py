"""safe_text: every output the tool writes encodes as UTF-8 and shows no control character,
whatever text a package holds; JSON keeps the text exact."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from cloacina_build.safe_text import json_text, visible

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")
# any code point, lone surrogates included (what surrogateescape makes of a tar name)
anything = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                 exclude_categories=()))


@given(anything)
def test_visible_text_encodes_and_shows_no_control(text):
    shown = visible(text)
    shown.encode("utf-8")
    assert not CONTROL.search(shown)
    assert visible(text.replace("\\", "")) == text.replace("\\", "") or CONTROL.search(text)


def test_visible_examples():
    assert visible("a\x1b[31mb\nc\u202ed\udcff") == "a\\x1b[31mb\\nc\\u202ed\\udcff"
    assert visible("naïve 名前") == "naïve 名前"


@given(st.dictionaries(anything, st.lists(anything, max_size=3), max_size=4), st.booleans())
def test_json_text_is_utf8_and_exact(data, indent):
    text = json_text(data, indent=indent)
    text.encode("utf-8")
    assert json.loads(text) == data


def test_json_text_keeps_non_ascii_and_escapes_only_surrogates():
    assert json_text({"k": "é\udcff"}) == '{"k": "é\\udcff"}'
