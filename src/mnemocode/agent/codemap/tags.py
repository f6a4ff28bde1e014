"""One file's definitions and references, from its tree-sitter tree.

A definition keeps its full signature as written (decorators and attributes above
it, parameters, return type: everything before its body) and the names of the
definitions enclosing it. References are the identifiers the file uses, each with
the lines it is used on; a definition's own name is not a reference.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from tree_sitter import Node, Parser, QueryCursor

from mnemocode.agent.codemap.languages import LEADING_SIBLINGS, WRAPPERS, grammar

# (name, line, end_line, category, signature, parents): compact, and what the cache stores
Definition = tuple[str, int, int, str, str, tuple[str, ...]]
References = dict[str, list[int]]  # name → the lines it is used on, sorted

MAX_SIGNATURE_LINES = 30
MAX_LINE_CHARS = 240
# Functions directly inside these are methods. A namespace (C++, C#, Rust ``mod``, a
# TypeScript ``namespace``) holds plain functions; a Ruby ``module``'s defs are methods.
CONTAINERS = frozenset({"class", "struct", "interface", "impl", "trait", "module", "enum"})


@dataclass(frozen=True, slots=True)
class FileTags:
    definitions: tuple[Definition, ...]  # in source order
    references: References  # names in sorted order


EMPTY = FileTags((), {})


def parse_tags(source: bytes, language: str) -> FileTags:
    """The tags of ``source``, a file in ``language`` (a name in ``GRAMMARS``)."""
    g = grammar(language)
    tree = Parser(g.language).parse(source)
    captures = QueryCursor(g.query).captures(tree.root_node)
    names = sorted(captures.get("name", ()), key=lambda n: n.start_byte)
    name_starts = [n.start_byte for n in names]
    nodes: list[tuple[Node, str]] = []
    for capture, found in captures.items():
        if capture.startswith("definition."):
            category = capture[len("definition.") :]
            nodes += [(node, category) for node in found]
    nodes.sort(key=lambda item: (item[0].start_byte, -item[0].end_byte))
    definitions = _definitions(source, nodes, names, name_starts)
    taken = set(name_starts)
    rows: dict[bytes, list[int]] = {}  # by the name's bytes: decoded once each
    for node in captures.get("reference", ()):
        start = node.start_byte
        if start in taken:
            continue
        key = source[start : node.end_byte]
        at = rows.get(key)
        if at is None:
            at = rows[key] = []
        at.append(node.start_point[0])
    references: dict[str, set[int]] = {}
    for key, at in rows.items():
        references.setdefault(key.decode("utf-8", "replace"), set()).update(at)
    ordered = {name: [r + 1 for r in sorted(lines)] for name, lines in sorted(references.items())}
    return FileTags(tuple(definitions), ordered)


def _definitions(
    source: bytes, nodes: list[tuple[Node, str]], names: list[Node], name_starts: list[int]
) -> list[Definition]:
    out: list[Definition] = []
    stack: list[tuple[int, str, str]] = []  # enclosing definitions: (end byte, name, category)
    seen: set[tuple[int, int]] = set()
    for node, category in nodes:
        span = (node.start_byte, node.end_byte)
        if span in seen:  # two patterns matched the same node
            continue
        seen.add(span)
        i = bisect_left(name_starts, node.start_byte)
        if i == len(names) or names[i].end_byte > node.end_byte:
            continue
        name_node = names[i]
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        name = _last_part(
            source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
        )
        if category == "function" and stack and stack[-1][2] in CONTAINERS:
            category = "method"  # noqa: PLW2901
        parents = tuple(entry[1] for entry in stack)
        signature = _signature(source, node, name_node)
        out.append(
            (
                name,
                name_node.start_point.row + 1,
                node.end_point.row + 1,
                category,
                signature,
                parents,
            )
        )
        stack.append((node.end_byte, name, category))
    return out


def _last_part(name: str) -> str:
    """``Foo::bar`` and ``a.b.C`` name ``bar`` and ``C``."""
    for sep in ("::", "."):
        if sep in name:
            name = name.rsplit(sep, 1)[1]
    return name.strip() or name


def _signature(source: bytes, node: Node, name: Node) -> str:
    start = _start(node)
    body = _body(node)
    if body is not None and body.start_byte >= name.end_byte:
        text = source[start.start_byte : body.start_byte]
    else:
        end = source.find(b"\n", name.end_byte)
        text = source[start.start_byte : node.end_byte if end < 0 else min(end, node.end_byte)]
    lines = text.decode("utf-8", "replace").rstrip().split("\n")[:MAX_SIGNATURE_LINES]
    # A body the grammar does not mark (Go's ``type T struct {``) opens on the name's line.
    lines[-1] = lines[-1].removesuffix("{")
    column = start.start_point.column
    out = [lines[0].rstrip()]
    for line in lines[1:]:
        stripped = line[:column]
        out.append((line[column:] if not stripped.strip() else line).rstrip())
    return "\n".join(
        line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…" for line in out
    )


def _start(node: Node) -> Node:
    """The node where the definition's text starts: its wrapper (a decorated
    definition, an export) and the decorators or attributes just above it."""
    start = node
    parent = node.parent
    while parent is not None and parent.type in WRAPPERS:
        if parent.type == "type_declaration" and parent.named_child_count > 1:
            break  # Go's grouped ``type ( … )``: the spec alone
        start, parent = parent, parent.parent
    previous = start.prev_named_sibling
    while previous is not None and previous.type in LEADING_SIBLINGS:
        start, previous = previous, previous.prev_named_sibling
    return start


def _body(node: Node) -> Node | None:
    """The definition's body (whatever follows the signature), if it has one."""
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    for child in node.named_children:
        value = child.child_by_field_name("value")
        if value is not None and (inner := value.child_by_field_name("body")) is not None:
            return inner
        if child.type in {"class_body", "function_body", "enum_class_body", "declaration_list"}:
            return child
    return None
