"""tree-sitter-bash, loaded once, and facts about the trees it builds.

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
