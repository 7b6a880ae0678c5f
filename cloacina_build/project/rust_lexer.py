"""A small Rust lexer: enough to find attributes, functions and their bodies, and to
fingerprint a function from its tokens.  Linear in the source: every pattern is matched at
an offset (never on a copy of the rest of the source)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ALGORITHM = "cloacina-rust-tokens-v1"
_IDENT = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")
_RAW = re.compile(r'(b?r)(#*)"')
_CHAR = re.compile(r"b?'(\\(x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f]{1,6}\}|.)|[^\\'])'")
_LIFETIME = re.compile(r"'[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"[^\S\n]+")
_PUNCT3 = ("<<=", ">>=", "...", "..=")
_PUNCT2 = ("::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=",
           "%=", "^=", "&=", "|=", "<<", ">>", "..")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


class LexError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Token:
    kind: str   # ident | literal | punct | lifetime
    text: str
    line: int


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src, self.i, self.line = src, 0, 1
        self.out: list[Token] = []

    def emit(self, kind: str, end: int) -> None:
        text = self.src[self.i:end]
        self.out.append(Token(kind, text, self.line))
        self.line += text.count("\n")
        self.i = end

    def run(self) -> list[Token]:
        src, n = self.src, len(self.src)
        while self.i < n:
            i, c = self.i, src[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c.isspace():
                m = _SPACE.match(src, i)
                self.i = m.end() if m else i + 1
            elif src.startswith("//", i):
                end = src.find("\n", i)
                self.i = n if end < 0 else end
            elif src.startswith("/*", i):
                self._block_comment()
            else:
                self._token(i, c)
        return self.out

    def _token(self, i: int, c: str) -> None:
        src = self.src
        if (m := _RAW.match(src, i)):
            self._raw_string(m)
        elif c == '"' or src.startswith(('b"', 'c"'), i):
            self._string(i + (1 if c == '"' else 2))
        elif c == "'" or src.startswith("b'", i):
            self._quote()
        elif (m := _IDENT.match(src, i)):
            self.emit("ident", m.end())
        elif c.isdigit():
            text = _NUMBER.match(src, i).group(0)  # type: ignore[union-attr]
            if ".." in text:  # a range like 0..10
                text = text[: text.index("..")]
            self.emit("literal", i + len(text))
        else:
            self._punct()

    def _block_comment(self) -> None:
        src, n = self.src, len(self.src)
        depth, j = 1, self.i + 2
        while depth and j < n:
            opening, closing = src.find("/*", j), src.find("*/", j)
            if closing < 0:
                j = n
                break
            if 0 <= opening < closing:
                depth, j = depth + 1, opening + 2
            else:
                depth, j = depth - 1, closing + 2
        if depth:
            raise LexError("unterminated block comment", self.line)
        self.line += src.count("\n", self.i, j)
        self.i = j

    def _raw_string(self, m: re.Match[str]) -> None:
        hashes = m.group(2)
        end = self.src.find('"' + hashes, m.end())
        if end < 0:
            raise LexError("unterminated raw string", self.line)
        self.emit("literal", end + 1 + len(hashes))

    def _string(self, j: int) -> None:
        src, n = self.src, len(self.src)
        while j < n and src[j] != '"':
            j += 2 if src[j] == "\\" else 1
        if j >= n:
            raise LexError("unterminated string", self.line)
        self.emit("literal", j + 1)

    def _quote(self) -> None:
        m = _CHAR.match(self.src, self.i)
        if m:
            self.emit("literal", m.end())
            return
        m = _LIFETIME.match(self.src, self.i)
        if not m:
            raise LexError("stray quote", self.line)
        self.emit("lifetime", m.end())

    def _punct(self) -> None:
        i = self.i
        for size, table in ((3, _PUNCT3), (2, _PUNCT2)):
            if self.src[i:i + size] in table:
                self.emit("punct", i + size)
                return
        self.emit("punct", i + 1)


def tokenize(src: str) -> list[Token]:
    return _Lexer(src).run()


def match_close(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at ``start``."""
    opener = tokens[start].text
    closer = _PAIRS[opener]
    depth = 0
    for j in range(start, len(tokens)):
        t = tokens[j]
        if t.kind != "punct":
            continue
        if t.text == opener:
            depth += 1
        elif t.text == closer:
            depth -= 1
            if depth == 0:
                return j
    raise LexError(f"unclosed '{opener}'", tokens[start].line)


def fingerprint_tokens(tokens: list[Token]) -> str:
    """sha256 over the tokens' texts, ``#[doc ...]`` attributes left out."""
    texts = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "#" and i + 2 < len(tokens) and tokens[i + 1].text == "[" and \
                tokens[i + 2].text == "doc":
            i = match_close(tokens, i + 1) + 1
            continue
        texts.append(t.text)
        i += 1
    data = f"{ALGORITHM}\0" + "\x1f".join(texts)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
