"""Find the line where a key path is written in a TOML document.

``tomllib`` and ``tomlkit`` keep no positions, so this is a small scanner over text
that already parsed. It follows ``[table]`` and ``[[array]]`` headers, dotted and
quoted keys, inline tables and arrays (array items get their index in the path, as
in pydantic error locations), and skips strings and comments so that a ``[`` inside
a string is never taken for a header.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

Key = tuple[str | int, ...]

_BLANK = (" ", "\t", "\r")
_BLANK_NL = (" ", "\t", "\r", "\n")
_SCALAR_END = ("", ",", "]", "}", "\n", "#")


def key_lines(text: str) -> dict[Key, int]:
    """Every key path written in ``text`` (prefixes included) → its first line (1-based)."""
    return _Scanner(text).run()


def line_of(lines: dict[Key, int], loc: Sequence[str | int]) -> int | None:
    """The line of ``loc``, else of its nearest written parent (a table header), else None."""
    for n in range(len(loc), 0, -1):
        hit = lines.get(tuple(loc[:n]))
        if hit is not None:
            return hit
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.found: dict[Key, int] = {}
        self.arrays: dict[Key, int] = {}

    # -- cursor ---------------------------------------------------------------

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        self.line += self.s.count("\n", self.i, self.i + n)
        self.i = min(self.i + n, len(self.s))

    def skip_blank(self) -> None:
        while self.peek() in _BLANK and self.peek():
            self.advance()

    def skip_blank_lines_and_comments(self) -> None:
        while True:
            c = self.peek()
            if c and c in _BLANK_NL:
                self.advance()
            elif c == "#":
                while self.peek() not in ("\n", ""):
                    self.advance()
            else:
                return

    def record(self, path: Key, line: int) -> None:
        for n in range(1, len(path) + 1):
            self.found.setdefault(path[:n], line)

    # -- grammar --------------------------------------------------------------

    def run(self) -> dict[Key, int]:
        table: Key = ()
        while True:
            self.skip_blank_lines_and_comments()
            if not self.peek():
                return self.found
            before = self.i
            if self.peek() == "[":
                table = self.header()
            else:
                self.key_value(table)
            if self.i == before:  # never loop on text we do not understand
                self.advance()

    def header(self) -> Key:
        line = self.line
        is_array = self.peek(1) == "["
        self.advance(2 if is_array else 1)
        self.skip_blank()
        keys = self.keys()
        self.skip_blank()
        self.advance(2 if is_array else 1)
        path: Key = ()
        for n, key in enumerate(keys):
            path += (key,)
            if is_array and n == len(keys) - 1:
                index = self.arrays.get(path, -1) + 1
                self.arrays[path] = index
                path += (index,)
            elif path in self.arrays:
                path += (self.arrays[path],)
        self.record(path, line)
        return path

    def key_value(self, parent: Key) -> None:
        line = self.line
        path = parent + tuple(self.keys())
        self.skip_blank()
        if self.peek() == "=":
            self.advance()
        self.skip_blank()
        self.record(path, line)
        self.value(path)

    def keys(self) -> list[str]:
        out = [self.simple_key()]
        while True:
            self.skip_blank()
            if self.peek() != ".":
                return out
            self.advance()
            self.skip_blank()
            out.append(self.simple_key())

    def simple_key(self) -> str:
        if self.peek() in ('"', "'"):
            raw = self.string()
            try:
                return str(tomllib.loads(f"k = {raw}")["k"])
            except tomllib.TOMLDecodeError:
                return raw[1:-1]
        start = self.i
        while self.peek() and (self.peek().isalnum() or self.peek() in ("-", "_")):
            self.advance()
        return self.s[start : self.i]

    def string(self) -> str:
        start = self.i
        quote = self.peek()
        basic = quote == '"'
        if self.s.startswith(quote * 3, self.i):
            self.advance(3)
            while self.peek():
                if basic and self.peek() == "\\":
                    self.advance(2)
                elif self.s.startswith(quote * 3, self.i):
                    self.advance(3)
                    for _ in range(2):  # up to two quotes may end the content
                        if self.peek() == quote:
                            self.advance()
                    break
                else:
                    self.advance()
        else:
            self.advance()
            while self.peek() not in ("", "\n"):
                c = self.peek()
                self.advance(2 if basic and c == "\\" else 1)
                if c == quote:
                    break
        return self.s[start : self.i]

    def value(self, path: Key) -> None:
        c = self.peek()
        if c in ('"', "'") and c:
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            while self.peek() not in _SCALAR_END:
                self.advance()

    def array(self, path: Key) -> None:
        self.advance()
        index = 0
        while True:
            self.skip_blank_lines_and_comments()
            c = self.peek()
            if c in ("]", ""):
                self.advance()
                return
            if c == ",":
                self.advance()
                continue
            item = (*path, index)
            self.record(item, self.line)
            before = self.i
            self.value(item)
            if self.i == before:
                self.advance()
            index += 1

    def inline_table(self, path: Key) -> None:
        self.advance()
        while True:
            self.skip_blank_lines_and_comments()
            c = self.peek()
            if c in ("}", ""):
                self.advance()
                return
            if c == ",":
                self.advance()
                continue
            before = self.i
            self.key_value(path)
            if self.i == before:
                self.advance()
