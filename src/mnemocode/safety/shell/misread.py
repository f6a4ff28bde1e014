"""Where tree-sitter-bash reads a command line differently from bash.

The analysis is only as good as the tree. Each check below is a case where the
tree is *not* the command bash would run, found by differential fuzzing (real
bash in bubblewrap, every program replaced by a stub that logs its argv, compared
with what the analyser saw). A hit makes the verdict ``ask`` (``unknown:syntax``).

- text the tree does not cover: a word silently dropped (``python3 - <<EOF`` loses
  the ``-``), a carriage return (a blank to tree-sitter, a word character to bash);
- line continuations: ``tr\\<newline>uncate`` and ``$\\<newline>(`` are joined by
  bash, split by tree-sitter; a newline inside one command's words ends it in bash;
- words: two words tree-sitter split where bash sees one (``'ls|head'\\x``), or one
  word that swallowed a blank (``a<newline>\\x``);
- keywords and brackets joined to a word (``export]]``, ``[-d x ]``, ``{ls;}``),
  ``[ a > b ]`` (a redirection to the file b in bash), blanks inside an assignment;
- ``[ a || b ]`` and ``[ a | b ]``: operators that end the ``[`` command in bash;
- ``>&-`` / ``<&`` followed by a word, which bash reads as a separate argument;
- an unquoted here-document whose ``$(...)`` tree-sitter left as plain text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from mnemocode.safety.shell.verdict import names

if TYPE_CHECKING:
    from tree_sitter import Node

# Nodes whose children do not cover their whole text: the text between the
# children is literal content (quoted strings, here-documents, comments ...).
TEXTUAL = frozenset(
    {
        "string",
        "raw_string",
        "ansi_c_string",
        "translated_string",
        "heredoc_body",
        "heredoc_content",
        "string_content",
        "comment",
        "word",
        "regex",
        "extglob_pattern",
    }
)
# Nodes that bash reads as one line: a newline between their parts ends them.
_ONE_LINE = frozenset(
    {
        "command",
        "redirected_statement",
        "file_redirect",
        "herestring_redirect",
        "declaration_command",
        "unset_command",
        "variable_assignment",
        "variable_assignments",
    }
)
# Nodes that are one word: nothing may stand between their parts.
_CONTIGUOUS = frozenset({"simple_expansion", "concatenation"})
# Nodes whose word children must be separated by blanks.
_WORD_LISTS = frozenset({"command", "declaration_command", "unset_command", "file_redirect"})
_WORDLIKE = frozenset(
    {
        "word",
        "string",
        "raw_string",
        "ansi_c_string",
        "translated_string",
        "concatenation",
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "number",
        "arithmetic_expansion",
        "brace_expression",
        "command_name",
    }
)
_KEYWORDS = names(
    """
    case declare do done elif else esac export fi for function if in local readonly
    select then typeset unset unsetenv until while !
    """
)
_WORD_END = frozenset(b" \t\n;&|()<>")
# Inside `[ ]` (a plain command to bash) these end the command or start another.
_OPERATORS = frozenset({"|", "||", "&&", "&", ";", "(", ")", "|&"})
_EXPANSIONS = frozenset(
    {"command_substitution", "expansion", "simple_expansion", "arithmetic_expansion"}
)
_UNPARSED_EXPANSION = re.compile(rb"(?<!\\)(\$\(|\$\{|\$\[|`)")


def misread(root: Node, source: bytes) -> str | None:
    """A short description of where bash and tree-sitter disagree, or None."""
    if re.search(rb"\$(\\\r?\n)+", source):
        return "a line continuation right after $"
    if not root.children:
        return None if not source.strip(b" \t\n") else "text the parser ignored"
    stack = [root]
    while stack:
        node = stack.pop()
        problem = _node_problem(node, root, source)
        if problem is not None:
            return problem
        stack.extend(node.children)
    return None


def _node_problem(node: Node, root: Node, source: bytes) -> str | None:
    kind = node.type
    if kind == "word" and _has_blank(node.text or b""):
        return "a line break inside a word"
    if not node.is_named and kind in _KEYWORDS and _joined(source, node):
        return f"the keyword {kind!r} joined to a word"
    check = _CHECKS.get(kind)
    problem = check(node, source) if check is not None else None
    if problem is not None or kind in TEXTUAL or not node.children:
        return problem
    children = node.children
    bounds = [0 if node is root else node.start_byte]
    for child in children:
        bounds += [child.start_byte, child.end_byte]
    bounds.append(len(source) if node is root else node.end_byte)
    if kind in _CONTIGUOUS and any(
        bounds[i] != bounds[i + 1] for i in range(2, len(bounds) - 2, 2)
    ):
        return "a blank inside one word"
    one_line = kind in _ONE_LINE
    for i in range(0, len(bounds), 2):
        problem = _gap_problem(source, bounds[i], bounds[i + 1], one_line=one_line)
        if problem is not None:
            return problem
    if kind in _WORD_LISTS:
        for left, right in itertools.pairwise(children):
            if {left.type, right.type} <= _WORDLIKE and left.end_byte == right.start_byte:
                return "one word the parser split in two"
    return None


def _gap_problem(source: bytes, start: int, end: int, *, one_line: bool) -> str | None:
    gap = source[start:end]
    if not gap:
        return None
    rest = gap.replace(b"\\\n", b"")
    if rest.strip(b" \t\n"):
        shown = gap.decode("utf-8", "replace").strip()
        return f"text the parser skipped: {shown or repr(gap.decode('utf-8', 'replace'))}"
    if one_line and b"\n" in rest:
        return "a line break inside one command"
    touching = not rest and start > 0 and end < len(source)
    if touching and source[start - 1] not in _WORD_END and source[end] not in _WORD_END:
        return "a line continuation inside a word"
    return None


def _joined(source: bytes, node: Node, *, after: bool = True) -> bool:
    """Does ``node`` touch a word character (before it, and after it if ``after``)?"""
    neighbours = [source[node.start_byte - 1] if node.start_byte > 0 else None]
    if after:
        neighbours.append(source[node.end_byte] if node.end_byte < len(source) else None)
    return any(b is not None and b not in _WORD_END for b in neighbours)


def _has_blank(word: bytes) -> bool:
    escaped = False
    for byte in word:
        if escaped:
            escaped = False
        elif byte == 0x5C:  # backslash
            escaped = True
        elif byte in b" \t\n\r":
            return True
    return False


def _test(node: Node, source: bytes) -> str | None:
    """`[-d x ]` runs a program `[-d`; `[ a > b ]` writes to the file b."""
    test = node.text or b""
    if not test.startswith(b"["):
        return None
    width = 2 if test.startswith(b"[[") else 1
    if test[width : width + 1] not in (b" ", b"\t") or test[-width - 1 : -width] not in (
        b" ",
        b"\t",
    ):
        return "a test bracket joined to a word"
    if width == 1:
        if b"\n" in test.replace(b"\\\n", b""):
            return "a line break inside [ ]"
        stack = list(node.children)
        while stack:
            child = stack.pop()
            if not child.is_named and any(c in child.type for c in "<>"):
                return "a redirection inside [ ]"  # `[ a >= b ]` writes to a file "="
            if child.type in _OPERATORS:
                return "a shell operator inside [ ]"
            stack.extend(child.children)
    return None


def _heredoc(node: Node, source: bytes) -> str | None:
    """In an unquoted here-document bash expands `$(...)`; tree-sitter sometimes
    leaves it as plain text (``<<$X``)."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    end = next((c for c in node.children if c.type == "heredoc_end"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if start is not None and end is not None:
        delimiter = re.sub(rb"['\"\\]", b"", start.text or b"")
        if (end.text or b"").strip(b"\n").lstrip(b"\t") != delimiter:
            return "a here-document that ends where bash would not end it"
    if start is None or body is None or any(q in (start.text or b"") for q in b"'\"\\"):
        return None
    text = bytearray(body.text or b"")
    stack = list(body.children)
    while stack:  # blank out what the parser did read as expansions
        child = stack.pop()
        if child.type in _EXPANSIONS:
            first, last = child.start_byte - body.start_byte, child.end_byte - body.start_byte
            text[first:last] = b" " * (last - first)
        else:
            stack.extend(child.children)
    if _UNPARSED_EXPANSION.search(bytes(text)):
        return "an expansion in a here-document the parser left as text"
    return None


def _brace(node: Node, source: bytes) -> str | None:
    """`{ls;}` is one word to bash; tree-sitter reads a group."""
    text = node.text or b""
    if text.startswith(b"{") and text[1:2] not in (b" ", b"\t", b"\n"):
        return "a brace joined to a word"
    return None


def _assignment(node: Node, source: bytes) -> str | None:
    """`a[1 + 2]=x` or `a[x] =y` are commands to bash, not assignments."""
    value = node.child_by_field_name("value")
    end = value.start_byte if value is not None else node.end_byte
    head = (node.text or b"")[: end - node.start_byte]
    return "blanks inside an assignment" if _has_blank(head) else None


def _redirect(node: Node, source: bytes) -> str | None:
    """`>&-word`: bash closes the descriptor and reads `word` as an argument; in
    `-v2>&1` the 2 belongs to the word `-v2` for bash, not to the redirection."""
    descriptor = node.child_by_field_name("descriptor")
    if descriptor is not None and (
        not re.fullmatch(rb"\d+|\{[A-Za-z_]\w*\}", descriptor.text or b"")
        or _joined(source, descriptor, after=False)
    ):
        return "a descriptor number joined to a word"
    operator = next((c.type for c in node.children if not c.is_named), "")
    target = node.child_by_field_name("destination")
    if target is None:
        return None
    text = target.text or b""
    if operator in (">&-", "<&-") or (
        operator in (">&", "<&") and text.startswith(b"-") and text != b"-"
    ):
        return "a closed descriptor followed by a word"
    return None


_CHECKS: dict[str, Callable[[Node, bytes], str | None]] = {
    "test_command": _test,
    "heredoc_redirect": _heredoc,
    "compound_statement": _brace,
    "variable_assignment": _assignment,
    "file_redirect": _redirect,
}
