"""tree-sitter-bash, loaded once; and checks that the parse can be trusted.

``tree_sitter`` is imported inside the functions so that importing the safety
layer stays cheap; the ``Language`` is built once per process and each thread
keeps its own ``Parser`` (parsers are not shared across threads).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from mnemocode.safety.shell.state import Analysis, shorten

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser, Tree

_local = threading.local()

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


@lru_cache(maxsize=1)
def language() -> Language:
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Language(tree_sitter_bash.language())


def _parser() -> Parser:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        import tree_sitter

        parser = tree_sitter.Parser(language())
        _local.parser = parser
    return parser


def parse(source: bytes) -> Tree:
    return _parser().parse(source)


def text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def misread(root: Node, source: bytes) -> str | None:
    """Where tree-sitter read the source differently from bash, if anywhere.

    Known cases: it drops some words without an ERROR node (``python3 - <<EOF``
    loses the ``-``); it treats a carriage return as a blank where bash keeps it in
    the word; it splits ``tr\\<newline>uncate`` into two words where bash joins them
    into ``truncate``; it lets a word swallow a newline (``a\n\\x`` is one word to
    it, two commands to bash); and it reads ``[-d x ]`` as a test where bash runs a
    program named ``[-d`` (and ``[ a > b ]`` as a comparison where bash writes to
    a file ``b``). Between the children of every structural node only
    blanks and line continuations that touch a blank may remain; words may not
    contain unescaped blanks; test brackets must stand alone.
    """
    if re.search(rb"\$(\\\r?\n)+", source):
        return "a line continuation right after $"  # bash joins `$\<newline>(` into `$(`
    stack = [root]
    while stack:
        node = stack.pop()
        children = node.children
        if node.type == "word" and _has_blank(node.text or b""):
            return "a line break inside a word"
        problem = _STRUCTURE_CHECKS[node.type](node) if node.type in _STRUCTURE_CHECKS else None
        if problem is not None:
            return problem
        if node.type not in TEXTUAL and children:
            start = 0 if node is root else node.start_byte
            bounds = [start]
            for child in children:
                bounds += [child.start_byte, child.end_byte]
            bounds.append(len(source) if node is root else node.end_byte)
            for i in range(0, len(bounds), 2):
                problem = _bad_gap(source, bounds[i], bounds[i + 1])
                if problem is not None:
                    return problem
        stack.extend(children)
    return None


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


_REDIRECTIONS = frozenset({">", ">>", "<", ">&", "<&", "&>", "&>>", ">|", "<>"})
_UNPARSED_EXPANSION = re.compile(rb"(?<!\\)(\$\(|\$\{|\$\[|`)")


def _heredoc_problem(node: Node) -> str | None:
    """In an unquoted here-document bash expands `$(...)`; tree-sitter sometimes
    leaves it as plain text (``<<$X``)."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    if start is None or any(q in (start.text or b"") for q in b"'\"\\"):
        return None
    stack = [c for c in node.children if c.type == "heredoc_body"]
    while stack:
        child = stack.pop()
        if child.type == "heredoc_content" and _UNPARSED_EXPANSION.search(child.text or b""):
            return "an expansion in a here-document the parser left as text"
        if child.type not in ("command_substitution", "expansion", "arithmetic_expansion"):
            stack.extend(child.children)
    return None


def _assignment_problem(node: Node) -> str | None:
    """`a[1 + 2]=x` or `a[x] =y` are commands to bash, not assignments."""
    value = node.child_by_field_name("value")
    end = value.start_byte if value is not None else node.end_byte
    head = (node.text or b"")[: end - node.start_byte]
    return "blanks inside an assignment" if _has_blank(head) else None


def _brace_problem(node: Node) -> str | None:
    """`{ls;}` is one word to bash; tree-sitter reads a group."""
    text = node.text or b""
    if text.startswith(b"{") and not text[1:2].isspace():
        return "a brace joined to a word"
    return None


def _test_problem(node: Node) -> str | None:
    """`[ a > b ]` redirects to a file named b in bash; tree-sitter sees a comparison."""
    test = node.text or b""
    if not test.startswith(b"["):
        return None
    width = 2 if test.startswith(b"[[") else 1
    if not (test[width : width + 1].isspace() and test[-width - 1 : -width].isspace()):
        return "a test bracket joined to a word"
    if width == 1:
        stack = list(node.children)
        while stack:
            child = stack.pop()
            if child.type in _REDIRECTIONS:
                return "a redirection inside [ ]"
            stack.extend(child.children)
    return None


_WORD_END = frozenset(b" \t\n;&|()<>")


def _bad_gap(source: bytes, start: int, end: int) -> str | None:
    gap = source[start:end]
    if not gap:
        return None
    rest = gap.replace(b"\\\n", b"")
    if rest.strip(b" \t\n"):
        return gap.decode("utf-8", "replace").strip() or repr(gap.decode("utf-8", "replace"))
    if not rest and start > 0 and end < len(source):
        before, after = source[start - 1], source[end]
        if before not in _WORD_END and after not in _WORD_END:
            return "a line continuation inside a word"
    return None


_STRUCTURE_CHECKS = {
    "test_command": _test_problem,
    "heredoc_redirect": _heredoc_problem,
    "compound_statement": _brace_problem,
    "variable_assignment": _assignment_problem,
}


# ---- facts about a tree ------------------------------------------------------------

# Places where bash evaluates the *text* of a string or variable as code: array
# subscripts in arithmetic (`$(( a[$(cmd)] ))`), name arguments of builtins
# (`printf -v 'a[$(cmd)]'`), indirection (`${!x}`) and prompt expansion (`${x@P}`).
_EVALUATING_NODES = frozenset(
    {"arithmetic_expansion", "c_style_for_statement", "subscript", "test_command", "expansion"}
)
_EVALUATING_WORDS = frozenset(
    {"let", "-i", "declare", "typeset", "local", "readonly", "export", "printf", "read"}
    | {"mapfile", "readarray", "unset", "test", "[", "getopts"}
)


def stages(node: Node) -> Iterator[Node]:
    for child in node.children:
        if child.type == "pipeline":
            yield from stages(child)
        elif child.is_named and child.type != "comment":
            yield child


def self_calls(body: Node, name: str) -> tuple[bool, bool]:
    calls = forks = False
    stack = [body]
    while stack:
        node = stack.pop()
        if node.type == "command":
            head = node.child_by_field_name("name")
            calls |= head is not None and text(head) == name
        forks |= node.type in ("pipeline", "&")
        stack.extend(node.children)
    return calls, forks


def survey(root: Node, an: Analysis, source: str) -> None:
    """Facts about the whole script: does it assign HOME or PWD (then `~`, `$HOME`,
    `$PWD` are unknown), and does it hide `$(...)` in a quoted string next to a
    construct that can evaluate that text (``[[ 1 -eq 'a[$(cmd)]' ]]``)."""
    quoted_substitution = evaluates = False
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind == "variable_name":
            parent = node.parent
            if parent is not None and parent.type not in ("simple_expansion", "expansion"):
                an.tainted |= {text(node)} & {"HOME", "PWD"}
        elif kind == "word":
            word = text(node)
            an.tainted |= set(re.findall(r"\b(HOME|PWD)\b", word))
            evaluates |= word in _EVALUATING_WORDS
        elif kind in ("raw_string", "ansi_c_string", "string_content", "heredoc_body"):
            body = text(node)
            quoted_substitution |= "$(" in body or "`" in body
        evaluates |= kind in _EVALUATING_NODES or kind == "(("
        if kind == "expansion" and text(node).endswith("@P}"):
            what = "uses prompt expansion (${x@P}), which runs `$(...)` found in data"
            an.ask(shorten(source), "unknown:prompt-expansion", what)
        stack.extend(node.children)
    if quoted_substitution and evaluates:
        what = "has quoted `$(...)` text and a construct that can evaluate it"
        an.ask(shorten(source), "unknown:evaluated-text", what)
