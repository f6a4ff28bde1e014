"""Which grammar parses which file, and the tags query of each language.

Every grammar is its own binary wheel from PyPI (pinned in pyproject.toml), so
nothing is downloaded at run time. The queries are ours, in ``queries/<lang>.scm``:
``@definition.<category>`` on a definition's node with its ``@name``, and
``@reference`` on the identifiers a file uses. Files in the languages of
``LISTED_ONLY`` (and any other text file) are in the map by name only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tree_sitter import Language, Parser, Query

# language → (module, function returning the grammar's pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "bash": ("tree_sitter_bash", "language"),
    "c": ("tree_sitter_c", "language"),
    "c_sharp": ("tree_sitter_c_sharp", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "python": ("tree_sitter_python", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
}
# tsx shares TypeScript's node types, and so its query.
QUERY_FILE = {"tsx": "typescript"}

EXTENSIONS: dict[str, str] = {
    ".sh": "bash", ".bash": "bash",
    ".c": "c", ".h": "c",
    ".cs": "c_sharp",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp",
    ".go": "go",
    ".java": "java",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".kt": "kotlin", ".kts": "kotlin",
    ".php": "php",
    ".py": "python", ".pyi": "python",
    ".rb": "ruby", ".rake": "ruby",
    ".rs": "rust",
    ".tsx": "tsx",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
}  # fmt: skip

# Source files we have no grammar for: in the map by name only.
LISTED_ONLY: dict[str, str] = {
    ".swift": "swift", ".scala": "scala", ".lua": "lua", ".pl": "perl", ".pm": "perl",
    ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml", ".ex": "elixir",
    ".exs": "elixir", ".erl": "erlang", ".dart": "dart", ".zig": "zig", ".nim": "nim",
    ".clj": "clojure", ".elm": "elm", ".vue": "vue", ".svelte": "svelte", ".sql": "sql",
    ".m": "objective-c", ".f90": "fortran", ".groovy": "groovy", ".ps1": "powershell",
}  # fmt: skip

# A definition's decorators/attributes are the node's preceding siblings of these types,
# or (Python, exports, templates) a parent of these types wrapping it.
LEADING_SIBLINGS = frozenset({"decorator", "attribute_item", "annotation"})
WRAPPERS = frozenset(
    {"decorated_definition", "export_statement", "template_declaration", "type_declaration"}
)


@dataclass(frozen=True, slots=True)
class Grammar:
    name: str
    language: Language
    query: Query


def language_of(path: str) -> str | None:
    """The grammar's name for ``path`` (by extension), or None."""
    dot = path.rfind(".")
    if dot <= path.rfind("/"):
        return None
    return EXTENSIONS.get(path[dot:].lower())


@cache
def grammar(name: str) -> Grammar:
    """The loaded grammar and compiled tags query of language ``name``."""
    module, function = GRAMMARS[name]
    language = Language(getattr(importlib.import_module(module), function)())
    source = (
        resources.files("mnemocode.agent.codemap")
        .joinpath("queries")
        .joinpath(f"{QUERY_FILE.get(name, name)}.scm")
        .read_text(encoding="utf-8")
    )
    return Grammar(name, language, Query(language, source))


def parser_for(path: str) -> Parser | None:
    """A parser for ``path``'s language, or None when the map lists it by name only."""
    name = language_of(path)
    return None if name is None else Parser(grammar(name).language)
