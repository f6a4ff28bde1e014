"""Task text → ``Focus``: the files and identifiers a task names, and a per-file prior.

What issue text offers, each with its own weight (``FocusWeights``): traceback frames
(``File "…/x.py", line N, in func`` and pytest's ``x.py:N: in func``), paths (full,
partial, bare file names, absolute paths from another machine), dotted modules
(``pkg.mod.Name``), identifiers (backticked code, code blocks and ``>>>`` lines,
CamelCase, snake_case, calls, dotted names' parts), exception names and the text of
error messages. Paths are matched to the candidate files by their longest common
suffix of path components; a name that fits several files shares its weight.

The prior mixes, per file: BM25F of the whole text (``lexical``), the mentions, the
files defining the mentioned identifiers (fewer definers weigh more) and the files
containing an error message verbatim. Test files and files in no programming
language get a modest general discount (a task is usually fixed in source code).
Everything is deterministic: the same text and files give the same Focus.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mnemocode.agent.codemap.lexical import LexicalIndex, TermCache
from mnemocode.agent.codemap.types import Focus


@dataclass(frozen=True, slots=True)
class FocusWeights:
    # Per kind of mention (files).
    chat_file: float = 1.0
    frame: float = 1.0
    path: float = 1.0
    bare_name: float = 0.6
    module: float = 0.8
    # Per kind of mention (identifiers).
    backticked: float = 1.0
    frame_function: float = 1.0
    code: float = 0.5
    code_definition: float = 0.2  # names the task's own snippet defines
    exception: float = 0.6
    prose: float = 0.7  # CamelCase, snake_case, calls, dotted parts in the prose
    # The prior's mix.
    lexical: float = 1.0
    mentioned: float = 1.0
    defines: float = 0.8
    message: float = 1.0
    test_file: float = 0.7
    not_code: float = 0.4


DEFAULT_WEIGHTS = FocusWeights()

SOURCE_SUFFIXES = frozenset(
    [
        ".py",
        ".pyi",
        ".pyx",
        ".js",
        ".jsx",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".go",
        ".rs",
        ".java",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".hh",
        ".cs",
        ".rb",
        ".php",
        ".kt",
        ".kts",
        ".sh",
        ".bash",
        ".swift",
        ".scala",
        ".m",
        ".mm",
        ".lua",
        ".pl",
        ".r",
        ".jl",
        ".ex",
        ".exs",
        ".erl",
        ".hs",
        ".ml",
        ".dart",
        ".vue",
        ".svelte",
        ".zig",
        ".nim",
    ]
)
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})

_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.MULTILINE | re.DOTALL)
_BACKTICK = re.compile(r"`([^`\n]+)`")
_PROMPT_LINE = re.compile(r"^\s*(?:>>>|\.\.\.|In \[\d+\]:|\$) ?(.*)$", re.MULTILINE)
_FRAME = re.compile(r"""File ["']([^"'\n]+)["'], line (\d+)(?:, in ([\w<>.]+))?""")
_PYTEST_FRAME = re.compile(r"^\s*([\w./\\-]+\.\w+):(\d+): (?:in ([\w<>.]+))?", re.MULTILINE)
_PATH = re.compile(r"(?<![\w/.-])((?:[A-Za-z]:)?[\w.~-]*(?:[/\\][\w.-]+)*\.[A-Za-z]\w{0,4})\b")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"\b(?:[A-Z][a-z0-9]+[A-Z]\w*|[a-z][a-z0-9]*[A-Z]\w*)\b")
_SNAKE = re.compile(r"\b_*[A-Za-z][A-Za-z0-9]*_\w*[A-Za-z0-9]\b")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")
_DEF_IN_CODE = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt))\b")
_MESSAGE = re.compile(
    r"\b(?:[A-Z]\w*(?:Error|Exception|Warning)|ERROR|WARNING|CRITICAL|FATAL|error|warning)"
    r"\s*:\s*(.+)$",
    re.MULTILINE,
)
# what cuts a message into literal pieces: quoted values, numbers, brackets, separators
_QUOTED = re.compile(
    r"""'[^'\n]*'|"[^"\n]*"|`[^`\n]*`|<[^>\n]*>|\b0x[0-9a-f]+\b|\d+(?:\.\d+)?|[()\[\]{};]"""
)
_KEYWORDS = frozenset(
    [
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
        "self",
        "cls",
        "print",
        "len",
        "str",
        "int",
        "float",
        "list",
        "dict",
        "set",
        "tuple",
        "bool",
        "type",
        "object",
        "none",
        "true",
        "false",
    ]
)


def _norm_path(raw: str) -> tuple[str, ...]:
    parts = raw.replace("\\", "/").split("/")
    return tuple(p for p in parts if p not in ("", ".", ".."))


class _FileMatcher:
    """Candidate files by base name; mentions matched by common suffix of components."""

    def __init__(self, files: Iterable[str]) -> None:
        self._by_name: dict[str, list[tuple[str, ...]]] = {}
        for f in sorted(set(files)):
            parts = _norm_path(f)
            if parts:
                self._by_name.setdefault(parts[-1], []).append(parts)

    def match(self, mention: Sequence[str]) -> list[tuple[str, float]]:
        """Best-matching files with the share of the shorter path that matched."""
        if not mention:
            return []
        best: list[tuple[str, ...]] = []
        best_k = 0
        for parts in self._by_name.get(mention[-1], ()):
            k = 0
            while k < min(len(parts), len(mention)) and parts[-1 - k] == mention[-1 - k]:
                k += 1
            if k > best_k:
                best, best_k = [parts], k
            elif k == best_k:
                best.append(parts)
        return [("/".join(p), best_k / min(len(p), len(mention))) for p in best]


def _add(into: dict[str, float], key: str, weight: float) -> None:
    if weight > into.get(key, 0.0):
        into[key] = weight


def _split_code(text: str) -> tuple[str, str]:
    """(code: fenced blocks, ``>>>`` lines and backticked spans; prose: the rest)."""
    code: list[str] = [m.group(0).strip("`~") for m in _FENCE.finditer(text)]
    prose = _FENCE.sub(" ", text)
    code += _PROMPT_LINE.findall(prose)
    prose = _PROMPT_LINE.sub(" ", prose)
    return "\n".join(code), prose


def _identifiers(text: str, code: str, prose: str, w: FocusWeights) -> dict[str, float]:
    idents: dict[str, float] = {}

    def put(name: str, weight: float) -> None:
        if len(name) > 2 and name.lower() not in _KEYWORDS and not name.isdigit():
            _add(idents, name, weight)

    own_defs = set(_DEF_IN_CODE.findall(code))
    for name in _IDENT.findall(code):
        put(name, w.code_definition if name in own_defs else w.code)
    for span in _BACKTICK.findall(text):
        for name in _IDENT.findall(span):
            put(name, w.backticked)
    for pattern in (_CAMEL, _SNAKE, _CALL):
        for name in pattern.findall(prose):
            put(name, w.prose)
    for dotted in _DOTTED.findall(prose):
        if not re.search(r"\.[a-z]{1,4}$", dotted) or "_" in dotted or dotted.count(".") > 1:
            for part in dotted.split("."):
                put(part, w.prose)
    for name in _EXCEPTION.findall(text):
        put(name, w.exception)
    for m in [*_FRAME.finditer(text), *_PYTEST_FRAME.finditer(text)]:
        if m.group(3):
            put(m.group(3).split(".")[-1], w.frame_function)
    return idents


def _mentioned_files(
    text: str, matcher: _FileMatcher, chat_files: Sequence[str], w: FocusWeights
) -> dict[str, float]:
    files: dict[str, float] = {}

    def put(mention: Sequence[str], weight: float, *, min_share: float = 0.0) -> None:
        found = matcher.match(mention)
        if not found:
            return
        split = 1 / math.sqrt(len(found))
        for path, share in found:
            if share >= min_share:
                single = share == 1.0 or len(mention) > 1
                _add(files, path, weight * (share if single else w.bare_name) * split)

    for f in chat_files:
        _add(files, "/".join(_norm_path(f)), w.chat_file)
    frames = [m.group(1) for m in _FRAME.finditer(text)]
    frames += [m.group(1) for m in _PYTEST_FRAME.finditer(text)]
    for raw in frames:
        put(_norm_path(raw), w.frame)
    for raw in _PATH.findall(text):
        parts = _norm_path(raw)
        if parts and not re.fullmatch(r"\d+(\.\d+)*", parts[-1]):
            put(parts, w.path if len(parts) > 1 else w.bare_name)
    for dotted in _DOTTED.findall(text):
        names = dotted.split(".")
        for n in range(len(names), 1, -1):  # longest module prefix that is a file
            stem = names[:n]
            hits = [*matcher.match([*stem[:-1], stem[-1] + ".py"])]
            hits += matcher.match([*stem, "__init__.py"])
            full = [(p, s) for p, s in hits if s == 1.0 and len(_norm_path(p)) >= n]
            if full:
                for path, _ in full:
                    _add(files, path, w.module * n / (n + 1) / math.sqrt(len(full)))
                break
    return files


def _message_fragments(text: str) -> list[str]:
    """Literal pieces of the error messages (values and quoted names cut out)."""
    out: list[str] = []
    for message in _MESSAGE.findall(text):
        for piece in _QUOTED.split(message):
            piece = piece.strip(" .,:;()[]{}")  # noqa: PLW2901
            if len(piece) >= 12 and " " in piece:
                out.append(piece)
    return sorted(set(out))


def _files_with(root: Path, files: Sequence[str], fragments: Sequence[str]) -> dict[str, float]:
    """Files (source code only) whose text holds a fragment; the share of fragments."""
    if not fragments:
        return {}
    found: dict[str, float] = {}
    for rel in files:
        if PurePosixPath(rel).suffix not in SOURCE_SUFFIXES:
            continue
        try:
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        hits = sum(1 for frag in fragments if frag in text)
        if hits:
            found[rel] = hits / len(fragments)
    return found


def is_test_file(path: str) -> bool:
    p = PurePosixPath(path)
    name = p.name
    return (
        name.startswith("test_")
        or p.stem.endswith(("_test", "_tests", ".test", ".spec"))
        or name == "conftest.py"
        or any(part in _TEST_DIRS for part in p.parts[:-1])
    )


def general_discount(path: str, w: FocusWeights = DEFAULT_WEIGHTS) -> float:
    factor = w.test_file if is_test_file(path) else 1.0
    if PurePosixPath(path).suffix not in SOURCE_SUFFIXES:
        factor *= w.not_code
    return factor


def _normalised(scores: Mapping[str, float]) -> dict[str, float]:
    top = max(scores.values(), default=0.0)
    return {k: v / top for k, v in scores.items()} if top > 0 else {}


@dataclass(frozen=True, slots=True)
class PriorParts:
    """The prior's ingredients per file, each scaled to a maximum of 1."""

    mentioned: dict[str, float]
    identifiers: dict[str, float]
    lexical: dict[str, float]
    defines: dict[str, float]
    messages: dict[str, float]


def prior_parts(
    text: str,
    *,
    root: Path,
    files: Sequence[str],
    chat_files: Sequence[str] = (),
    weights: FocusWeights = DEFAULT_WEIGHTS,
    index: LexicalIndex | None = None,
    cache: TermCache | None = None,
) -> PriorParts:
    """What ``focus_from_text`` mixes, before mixing."""
    w = weights
    code, prose = _split_code(text)
    matcher = _FileMatcher(files)
    mentioned = _mentioned_files(text, matcher, chat_files, w)
    idents = _identifiers(text, code, prose, w)
    if index is None:
        index = LexicalIndex.build(root, files, cache=cache)
    lexical = _normalised(index.scores(text))
    defines: dict[str, float] = {}
    for name, weight in idents.items():
        definers = index.defining(name)
        for path in definers:
            defines[path] = defines.get(path, 0.0) + weight / len(definers)
    messages = _files_with(root, files, _message_fragments(text))
    return PriorParts(mentioned, idents, lexical, _normalised(defines), messages)


def mix(parts: PriorParts, weights: FocusWeights = DEFAULT_WEIGHTS) -> dict[str, float]:
    """The per-file prior (maximum 1) from its parts."""
    w = weights
    prior: dict[str, float] = {}
    for path in (
        set(parts.lexical) | set(parts.mentioned) | set(parts.defines) | set(parts.messages)
    ):
        score = (
            w.lexical * parts.lexical.get(path, 0.0)
            + w.mentioned * parts.mentioned.get(path, 0.0)
            + w.defines * parts.defines.get(path, 0.0)
            + w.message * parts.messages.get(path, 0.0)
        ) * general_discount(path, w)
        if score > 0:
            prior[path] = score
    return dict(sorted(_normalised(prior).items()))


def focus_from_text(
    text: str,
    *,
    root: Path,
    files: Sequence[str],
    chat_files: Sequence[str] = (),
    weights: FocusWeights = DEFAULT_WEIGHTS,
    index: LexicalIndex | None = None,
    cache: TermCache | None = None,
) -> Focus:
    """The Focus of a task over the candidate ``files`` (relative to ``root``).
    ``index`` reuses a lexical index already built over the same files."""
    parts = prior_parts(
        text,
        root=root,
        files=files,
        chat_files=chat_files,
        weights=weights,
        index=index,
        cache=cache,
    )
    return Focus(
        files=dict(sorted(parts.mentioned.items())),
        identifiers=dict(sorted(parts.identifiers.items())),
        prior=mix(parts, weights),
        text=text,
    )
