"""The SEARCH/REPLACE parser and the edit engine against aider's corpus of real model
replies (``chat-history.md``) and the blocks a correct parser extracts from them
(``chat-history-search-replace-gold.txt``). The suite reads the slice vendored in
``tests/data/aider-editblock/`` (58 of the 401 sections with blocks, every kind of
case; see ``tests/data/NOTICE``); ``bench/editblock.py`` runs the same checks over
the full 4.1 MB corpus.

1. The parser reproduces the gold file byte for byte — blocks, shell blocks and the
   sections where parsing must fail — rendered in the gold's own format.
2. Each block's search text is found, by the engine, in its source — the reply it
   was written in — exactly where the gold says it applies: the lines right after
   its SEARCH marker. Then the same with the search text damaged the ways models
   damage it (trailing/collapsed whitespace, indentation, a typo): the engine must
   find the same place, or refuse — never pick another one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from mnemocode.tools.edit import (
    AmbiguousMatchError,
    EditError,
    apply_edit,
    find_match,
    find_matches,
)
from mnemocode.tools.editblock import (
    EditBlock,
    EditBlockError,
    ShellBlock,
    choose_fence,
    parse_edit_blocks,
)

AT = "@" * 20


@dataclass(frozen=True)
class Corpus:
    folder: Path

    @property
    def history(self) -> Path:
        return self.folder / "chat-history.md"

    @property
    def gold(self) -> Path:
        return self.folder / "chat-history-search-replace-gold.txt"


VENDORED = Corpus(Path(__file__).resolve().parents[1] / "data" / "aider-editblock")


@dataclass(frozen=True)
class Section:
    header: str
    content: str
    fence: tuple[str, str]


@cache
def sections(corpus: Corpus) -> list[Section]:
    """Replies split on '#### ' (the user's message), as the gold was made."""
    text = corpus.history.read_text(encoding="utf-8")
    out = []
    for chunk in re.split(r"(?=####\s)", text):
        if "editblock_coder.py" in chunk or "test_editblock.py" in chunk or not chunk.strip():
            continue
        content = "".join(chunk.splitlines(keepends=True)[1:])
        out.append(Section(chunk.split("\n")[0].strip(), content, choose_fence(content)))
    return out


@cache
def blocks(corpus: Corpus) -> list[tuple[Section, EditBlock]]:
    found = []
    for section in sections(corpus):
        try:
            parsed = parse_edit_blocks(section.content, section.fence)
        except EditBlockError:
            continue
        found += [(section, b) for b in parsed if isinstance(b, EditBlock)]
    return found


def render(section: Section) -> str:
    """One section in the gold's format (aider's wording for parse errors)."""
    try:
        parsed = parse_edit_blocks(section.content, section.fence)
    except EditBlockError as exc:
        processed = "".join(section.content.splitlines(keepends=True)[: exc.line])
        reason = str(exc).split(": ", 1)[1]
        if reason.startswith("missing file name"):
            reason = (
                "Bad/missing filename. The filename must be alone on the line before the "
                f"opening fence {section.fence[0]}"
            )
        else:
            reason = "Expected `" + reason.removeprefix("expected ").replace(" or ", "` or `") + "`"
        return f"\n\n@@@ {section.header} {AT}\n{processed}\n^^^ {reason}\n"
    out = [f"\n\n@@@ {section.header} {AT}\n"] if parsed else []
    for block in parsed:
        if isinstance(block, ShellBlock):
            out.append(f"@@@ SHELL {AT}\n{block.command}@@@ ENDSHELL {AT}\n")
        else:
            out.append(f"@@@ SEARCH: {block.path} {AT}\n{block.search}{AT}\n")
            out.append(f"{block.replace}@@@ REPLACE {AT}\n")
    return "".join(out)


def _body_line(block: EditBlock) -> int:
    """1-based line where the block's search text starts in its reply."""
    return block.line + 1


# ---- the measurements (asserting what must hold for every block), shared with the bench


def gold_counts(corpus: Corpus) -> tuple[bool, int, int]:
    """(rendering equals the gold byte for byte, blocks in the gold, sections in it)."""
    rendered = "".join(render(section) for section in sections(corpus))
    gold = corpus.gold.read_text(encoding="utf-8")
    return rendered == gold, gold.count("\n@@@ SEARCH: "), gold.count("\n\n@@@ #### ")


def located_counts(corpus: Corpus) -> tuple[int, int]:
    """(search texts found where the gold says, empty SEARCH blocks that create files)."""
    located = new_files = 0
    for section, block in blocks(corpus):
        if not block.search.strip():
            new_files += 1  # an empty SEARCH creates a file: nothing to locate
            continue
        lines = [m.line for m in find_matches(section.content, block.search)]
        assert _body_line(block) in lines, (section.header, block.path)
        located += 1
    return located, new_files


def spaced(text: str) -> str:
    """Trailing spaces on every line and doubled spaces between words."""
    return "\n".join(
        re.sub(r"(\S) (\S)", r"\1  \2", line) + "  " if line.strip() else line
        for line in text.split("\n")
    )


def indented(text: str) -> str:
    return "\n".join("    " + line if line.strip() else line for line in text.split("\n"))


DAMAGES: list[tuple[Callable[[str], str], str, bool]] = [
    (spaced, "whitespace", False),
    (indented, "indent", True),
]


def damaged_counts(
    corpus: Corpus, damage: Callable[[str], str], level: str, damage_replace: bool
) -> tuple[int, int]:
    """(damaged search texts found at the same place, edits applied through them)."""
    located = applied = 0
    for section, block in blocks(corpus):
        if not block.search.strip():
            continue
        matches = find_matches(section.content, damage(block.search))
        assert {m.level for m in matches} == {level}
        assert _body_line(block) in [m.line for m in matches]
        located += 1
        if len(matches) == 1:  # applying through the damaged texts gives the same file
            replace = damage(block.replace) if damage_replace else block.replace
            start = section.content.index(block.search, matches[0].start)
            expected = (
                section.content[:start]
                + block.replace
                + section.content[start + len(block.search) :]
            )
            assert apply_edit(section.content, damage(block.search), replace).text == expected
            applied += 1
    return located, applied


def _typo(text: str) -> str | None:
    """One changed character in the middle line of blocks with 3+ real lines."""
    lines = text.split("\n")
    real = [i for i, line in enumerate(lines) if len(line.strip()) >= 8]
    if len(real) < 3:
        return None
    k = real[len(real) // 2]
    line = lines[k]
    j = len(line) - len(line.lstrip()) + 2
    lines[k] = line[:j] + ("Y" if line[j] == "X" else "X") + line[j + 1 :]
    return "\n".join(lines)


def _without_replace_bodies(section: Section, block: EditBlock) -> tuple[str, int]:
    """The reply with every REPLACE body dropped (they are near-copies of the search
    text), and the new line of the block's search text."""
    kept: list[str] = []
    in_replace = False
    target = 0
    for i, line in enumerate(section.content.splitlines(keepends=True)):
        marker = line.strip()
        if in_replace and marker in {">>>>>>> REPLACE", "======="}:
            in_replace = False
        elif not in_replace and marker == "=======":
            in_replace = True
            kept.append(line)
            continue
        if not in_replace:
            kept.append(line)
        if i == block.line - 1:
            target = len(kept) + 1
    return "".join(kept), target


def typo_outcome(corpus: Corpus) -> dict[str, int]:
    """Search texts with a typo: found at the same place, refused, or found elsewhere."""
    outcome = {"found": 0, "refused": 0, "elsewhere": 0}
    for section, block in blocks(corpus):
        damaged = _typo(block.search)
        if damaged is None:
            continue
        source, line = _without_replace_bodies(section, block)
        try:
            match = find_match(source, damaged)
        except AmbiguousMatchError:
            outcome["refused"] += 1  # the reply repeats the block: two equal places
            continue
        except EditError:
            outcome["refused"] += 1
            continue
        assert match.level == "fuzzy"
        outcome["found" if match.line == line else "elsewhere"] += 1
    return outcome


# ---- the tests, on the vendored slice


def test_parser_reproduces_the_gold_file_exactly() -> None:
    assert gold_counts(VENDORED) == (True, 85, 58)
    assert len(blocks(VENDORED)) == 85


def test_the_slice_has_every_kind_of_case() -> None:
    """What the slice was chosen to keep: parse failures, shell blocks, blocks that
    create files, other fences, and replies where a damaged block matches twice."""
    gold = VENDORED.gold.read_text(encoding="utf-8")
    assert gold.count("\n^^^ Expected `") == 5
    assert gold.count(f"@@@ SHELL {AT}") == 6
    assert sum(section.fence != ("```", "```") for section in sections(VENDORED)) == 8
    assert located_counts(VENDORED)[1] == 4
    assert damaged_counts(VENDORED, indented, "indent", True)[1] < 81  # some match twice


def test_every_search_text_is_found_where_the_gold_says_it_applies() -> None:
    assert located_counts(VENDORED) == (81, 4)


@pytest.mark.parametrize(
    ("damage", "level", "damage_replace"), DAMAGES, ids=["whitespace", "indent"]
)
def test_damaged_search_texts_are_found_at_the_same_place(
    damage: Callable[[str], str], level: str, damage_replace: bool
) -> None:
    assert damaged_counts(VENDORED, damage, level, damage_replace) == (81, 48)


def test_a_typo_is_found_at_the_same_place_or_refused_never_elsewhere() -> None:
    assert typo_outcome(VENDORED) == {"found": 45, "refused": 11, "elsewhere": 0}
