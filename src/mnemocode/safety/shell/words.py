"""Static expansion of one shell word: quotes, escapes, ``~``, ``$HOME``/``$PWD``.

Anything that depends on run time (other variables, ``$(...)``, arithmetic, brace
expansion) makes the value unknown (``None``); substitutions inside the word are
still handed to the host so the commands they run get analysed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mnemocode.safety.shell.parse import text
from mnemocode.safety.shell.state import Analysis, Shell
from mnemocode.safety.shell.verdict import Arg

if TYPE_CHECKING:
    from tree_sitter import Node

_BRACE = re.compile(r"\{[^{}\x00]*(,|\.\.)[^{}\x00]*\}")
_ASSIGNMENT_TILDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=~(?=/|$)")
_DQ_ESCAPES = {"$", "`", '"', "\\"}
_SUBSTITUTIONS = {"command_substitution", "process_substitution"}
_ANSI_C = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "e": "\x1b",
    "E": "\x1b",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


class WordHost(Protocol):
    """What expansion needs from the analysis."""

    def variable(self, name: str) -> str | None: ...

    def home(self) -> Path | None: ...

    def substitution(self, node: Node) -> bool:
        """Analyse the commands of a ``$(...)``/``<(...)``; True if they download."""
        ...

    def output_of(self, node: Node) -> str | None:
        """What a ``$(...)`` prints, when that is known (``$(pwd)``)."""
        ...

    def scan(self, node: Node) -> bool:
        """Analyse every substitution inside ``node``; True if one downloads."""
        ...


class ShellWords:
    """The ``WordHost`` of one shell: what ``$HOME``, ``$PWD`` and ``~`` are right now."""

    def __init__(
        self,
        an: Analysis,
        shell: Shell,
        substitution: Callable[[Node, Shell], bool],
        scan: Callable[[Node, Shell], bool],
    ) -> None:
        self.an, self.shell = an, shell
        self._substitution, self._scan = substitution, scan

    def variable(self, name: str) -> str | None:
        if name in self.an.tainted:
            return None
        if name == "HOME":
            return str(self.an.home_dir)
        if name == "PWD" and self.shell.cwd is not None:
            return str(self.shell.cwd)
        return None

    def home(self) -> Path | None:
        return None if "HOME" in self.an.tainted else self.an.home_dir

    def substitution(self, node: Node) -> bool:
        return self._substitution(node, self.shell)

    def output_of(self, node: Node) -> str | None:
        inner = [c for c in node.children if c.is_named]
        if len(inner) != 1 or inner[0].type != "command" or text(inner[0]).strip() != "pwd":
            return None
        return self.variable("PWD")

    def scan(self, node: Node) -> bool:
        return self._scan(node, self.shell)


@dataclass(slots=True)
class _Seg:
    text: str
    quoted: bool


class _Unknown(Exception):
    """The word's value depends on run time."""


class _Expander:
    def __init__(self, host: WordHost) -> None:
        self.host = host
        self.fetched = False
        self.unknown = False

    def segments(self, node: Node, *, quoted: bool = False) -> list[_Seg]:
        kind = node.type
        if kind == "word":
            return _unescape_word(text(node))
        if kind == "number":
            return [_Seg(text(node), False)]
        if kind == "raw_string":
            return [_Seg(text(node)[1:-1], True)]
        if kind == "ansi_c_string":
            try:
                return [_Seg(_ansi_c(text(node)[2:-1]), True)]
            except _Unknown:
                self.unknown = True
                return []
        if kind in ("string", "translated_string"):
            return self._string(node)
        if kind == "concatenation":
            out: list[_Seg] = []
            for child in node.children:
                out += self.segments(child)
            return out
        if kind in ("simple_expansion", "expansion"):
            return self._expansion(node, quoted=False)
        if kind in _SUBSTITUTIONS:
            self.fetched |= self.host.substitution(node)
            if kind == "command_substitution":
                return self._known(self.host.output_of(node), quoted=quoted)
        else:
            self.fetched |= self.host.scan(node)
        self.unknown = True
        return []

    def _expansion(self, node: Node, *, quoted: bool) -> list[_Seg]:
        """``$NAME`` or ``${NAME}``; any other form (``${x:-...}``) is unknown."""
        names = [c for c in node.children if c.is_named]
        plain = len(names) == 1 and names[0].type in ("variable_name", "special_variable_name")
        if node.type == "expansion" and len(node.children) != 3:
            plain = False
        if not plain:
            self.fetched |= self.host.scan(node)
            self.unknown = True
            return []
        return self._known(self.host.variable(text(names[0])), quoted=quoted)

    def _known(self, value: str | None, *, quoted: bool) -> list[_Seg]:
        """An expansion with a known value; unquoted, bash would split it on blanks."""
        if value is None or (not quoted and (not value or any(c.isspace() for c in value))):
            self.unknown = True
            return []
        return [_Seg(value, True)]

    def _string(self, node: Node) -> list[_Seg]:
        source = node.text or b""
        base = node.start_byte
        pos = source.index(b'"') + 1
        end = len(source) - 1 if source.endswith(b'"') and len(source) > pos else len(source)
        out: list[_Seg] = []
        for child in node.children:
            if not child.is_named or child.type == "string_content":
                continue
            out.append(_Seg(_unescape_dq(source[pos : child.start_byte - base]), True))
            if child.type in ("simple_expansion", "expansion"):
                out += self._expansion(child, quoted=True)
            else:
                out += self.segments(child, quoted=True)
            pos = child.end_byte - base
        out.append(_Seg(_unescape_dq(source[pos:end]), True))
        return out


def evaluate(node: Node, host: WordHost) -> Arg:
    """The static value of one word node (``Arg.value`` None when unknowable)."""
    exp = _Expander(host)
    segs = exp.segments(node)
    raw = text(node)
    if exp.unknown:
        return Arg(None, raw, fetched=exp.fetched)
    unquoted = "".join(s.text if not s.quoted else "\x00" * len(s.text) for s in segs)
    if _BRACE.search(unquoted):
        return Arg(None, raw, fetched=exp.fetched)
    value = "".join(s.text for s in segs)
    tilde = _tilde(segs, unquoted, host)
    if tilde is False:
        return Arg(None, raw, fetched=exp.fetched)
    if isinstance(tilde, str):
        value = tilde
    glob = "*" in unquoted or "?" in unquoted or ("[" in unquoted and "]" in unquoted)
    return Arg(value, raw, glob=glob, fetched=exp.fetched)


def _tilde(segs: list[_Seg], unquoted: str, host: WordHost) -> str | bool | None:
    """The word with a leading ``~`` expanded; False if it cannot be; None if none."""
    if not segs or segs[0].quoted:
        return None
    value = "".join(s.text for s in segs)
    prefix = ""
    match = _ASSIGNMENT_TILDE.match(unquoted)
    if match:
        prefix = match.group(0)[:-1]
    elif not unquoted.startswith("~"):
        return None
    rest = value[len(prefix) :]
    head = rest.split("/", 1)[0]
    home = host.home()
    if head != "~" or home is None:
        return False
    return prefix + str(home) + rest[1:]


def _unescape_word(raw: str) -> list[_Seg]:
    out: list[_Seg] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt != "\n":
                out.append(_Seg(nxt, True))
            i += 2
            continue
        out.append(_Seg(char, False))
        i += 1
    return out


def _unescape_dq(raw: bytes) -> str:
    decoded = raw.decode("utf-8", "replace")
    out: list[str] = []
    i = 0
    while i < len(decoded):
        char = decoded[i]
        if char == "\\" and i + 1 < len(decoded) and decoded[i + 1] in (*_DQ_ESCAPES, "\n"):
            if decoded[i + 1] != "\n":
                out.append(decoded[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _ansi_c(body: str) -> str:
    """Decode ``$'...'``; unusual escapes make the whole word unknown."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ANSI_C:
            out.append(_ANSI_C[nxt])
            i += 2
            continue
        match = re.match(r"x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{1,4})", body[i + 1 :])
        if match is None:
            raise _Unknown
        digits = match.group(1) or match.group(2) or match.group(3)
        out.append(chr(int(digits, 8 if match.group(2) else 16)))
        i += 1 + len(match.group(0))
    return "".join(out)
