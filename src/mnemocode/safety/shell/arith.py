"""Arithmetic that evaluates text known only at run time.

bash evaluates the *value* of a variable used in arithmetic as an expression, and
an array subscript in that expression runs ``$(...)``: after ``read v < f`` a file
holding ``v[$(touch x)]`` runs ``touch`` on ``echo $(( v ))``, ``(( v ))``,
``[[ $v -eq 1 ]]``, ``${a[v]}``, ``${s:v}``, ``let v`` or ``declare -i n=v``. Such a
use asks unless every assignment of the variable in the script is a number (or
itself arithmetic): ``i=0; (( i++ ))`` and ``$((1+2))`` stay read-only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mnemocode.safety.shell.parse import text
from mnemocode.safety.shell.state import Analysis, shorten
from mnemocode.safety.shell.verdict import names

if TYPE_CHECKING:
    from tree_sitter import Node

# Variables bash itself sets to numbers.
_NUMERIC_BUILTINS = names(
    "RANDOM SRANDOM SECONDS LINENO EPOCHSECONDS BASHPID PPID UID EUID OPTIND COLUMNS LINES "
    "SHLVL HISTCMD"
)
_ARITHMETIC_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(0x[0-9a-fA-F]+|\d+)")
_ASSIGNING = frozenset({"read", "mapfile", "readarray", "getopts", "printf"})


def check_arithmetic(root: Node, an: Analysis, source: str) -> None:
    numeric = _numeric_variables(root)
    for context in _contexts(root):
        problem = _unknown_in(context, numeric)
        if problem is not None:
            what = f"evaluates {problem} as arithmetic, which can run commands found in data"
            an.ask(shorten(source), "unknown:arithmetic", what)
            return


def _walk(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(current.children)
    return out


def _numeric_variables(root: Node) -> frozenset[str]:
    numeric: set[str] = set()
    other: set[str] = set()
    for node in _walk(root):
        if node.type == "variable_assignment":
            target = node.child_by_field_name("name")
            if target is not None and target.type == "subscript":
                target = target.child_by_field_name("name")
            value = node.child_by_field_name("value")
            name = text(target) if target is not None else ""
            if value is None or _is_number(value):
                numeric.add(name)
            else:
                other.add(name)
        elif node.type == "for_statement":
            variable = node.child_by_field_name("variable")
            values = node.children_by_field_name("value")
            if variable is not None:
                numbers = bool(values) and all(_is_number(v) for v in values)
                (numeric if numbers else other).add(text(variable))
        elif node.type == "binary_expression" and _assigns(node):
            numeric.add(text(node.children[0]))  # `(( i = 0 ))`: its value is checked too
        elif node.type == "command":
            head = node.child_by_field_name("name")
            if head is not None and text(head) in _ASSIGNING:
                other.update(_IDENTIFIER.findall(text(node)))
    return frozenset((numeric - other) | _NUMERIC_BUILTINS)


def _assigns(node: Node) -> bool:
    return len(node.children) == 3 and node.children[1].type in ("=", "+=", "-=", "*=")


def _is_number(node: Node) -> bool:
    return node.type in ("number", "arithmetic_expansion") or (
        node.type == "word" and _NUMBER.fullmatch(text(node)) is not None
    )


def _contexts(root: Node) -> list[Node]:
    """The nodes whose text bash evaluates arithmetically."""
    found: list[Node] = []
    for node in _walk(root):
        kind = node.type
        if kind == "arithmetic_expansion":
            found.append(node)
        elif kind == "c_style_for_statement":
            parts = ("initializer", "condition", "update")
            found += [
                c for i, c in enumerate(node.children) if node.field_name_for_child(i) in parts
            ]
        elif kind == "compound_statement" and node.children and node.children[0].type == "((":
            found.append(node)
        elif kind == "subscript":
            name = node.child_by_field_name("name")
            found += [c for c in node.children if c.is_named and c != name]
        elif kind == "binary_expression" and _arithmetic_test(node):
            found += [c for c in node.children if c.is_named and c.type != "test_operator"]
        elif kind == "expansion":
            found += _substring_offsets(node)
        elif kind in ("command", "declaration_command"):
            found += _arithmetic_arguments(node)
    return found


def _arithmetic_test(node: Node) -> bool:
    operator = next((c for c in node.children if c.type == "test_operator"), None)
    if operator is None or text(operator) not in _ARITHMETIC_TESTS:
        return False
    parent = node.parent
    while parent is not None and parent.type != "test_command":
        parent = parent.parent
    return parent is not None and text(parent).startswith("[[")


def _substring_offsets(node: Node) -> list[Node]:
    """``${s:offset:length}``: everything after the first ``:``."""
    children = node.children
    colon = next((i for i, c in enumerate(children) if c.type == ":"), None)
    return [] if colon is None else [c for c in children[colon + 1 :] if c.is_named]


def _arithmetic_arguments(node: Node) -> list[Node]:
    """The arguments of ``let``; the values of ``declare -i`` (and ``local -i`` ...)."""
    head = node.child_by_field_name("name")
    words = [c for c in node.children if c.is_named and c is not head]
    if node.type == "command" and head is not None and text(head) == "let":
        return words
    if node.type == "declaration_command" and any(
        c.type == "word" and re.fullmatch(r"-[a-zA-Z]*i[a-zA-Z]*", text(c)) for c in words
    ):
        return words
    return []


def _unknown_in(context: Node, numeric: frozenset[str]) -> str | None:
    """The first name (or substitution) in ``context`` whose value is not a number."""
    for node in _walk(context):
        kind = node.type
        if kind in ("command_substitution", "process_substitution"):
            return f"the output of {text(node)}"
        if kind == "variable_name" or (kind == "simple_expansion" and not node.children):
            candidates = [text(node)]
        elif kind in ("word", "string_content", "raw_string"):
            candidates = _IDENTIFIER.findall(re.sub(r"\b0x[0-9a-fA-F]+|\b\d+#?\w*", "", text(node)))
        elif kind == "special_variable_name":
            candidates = [] if text(node) in ("#", "?", "$", "!") else [text(node)]
        else:
            continue
        for name in candidates:
            if name not in numeric:
                return f"${name}" if not name.startswith("$") else name
    return None
