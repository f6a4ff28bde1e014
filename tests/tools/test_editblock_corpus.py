"""The SEARCH/REPLACE parser and the edit engine against aider's corpus: 4.1 MB of
real model replies (``chat-history.md``) and the 577 blocks (in 401 sections) a
correct parser extracts from them (``chat-history-search-replace-gold.txt``).

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

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval-data" / "aider-editblock"
HISTORY = DATA / "chat-history.md"
GOLD = DATA / "chat-history-search-replace-gold.txt"
AT = "@" * 20


@dataclass(frozen=True)
class Section:
    header: str
    content: str
    fence: tuple[str, str]


@cache
def _sections() -> list[Section]:
    """Replies split on '#### ' (the user's message), as the gold was made."""
    text = HISTORY.read_text(encoding="utf-8")
    out = []
    for chunk in re.split(r"(?=####\s)", text):
        if "editblock_coder.py" in chunk or "test_editblock.py" in chunk or not chunk.strip():
            continue
        content = "".join(chunk.splitlines(keepends=True)[1:])
        out.append(Section(chunk.split("\n")[0].strip(), content, choose_fence(content)))
    return out


@cache
def _blocks() -> list[tuple[Section, EditBlock]]:
    found = []
    for section in _sections():
        try:
            blocks = parse_edit_blocks(section.content, section.fence)
        except EditBlockError:
            continue
        found += [(section, b) for b in blocks if isinstance(b, EditBlock)]
    return found


def _render(section: Section) -> str:
    """One section in the gold's format (aider's wording for parse errors)."""
    try:
        blocks = parse_edit_blocks(section.content, section.fence)
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
    out = [f"\n\n@@@ {section.header} {AT}\n"] if blocks else []
    for block in blocks:
        if isinstance(block, ShellBlock):
            out.append(f"@@@ SHELL {AT}\n{block.command}@@@ ENDSHELL {AT}\n")
        else:
            out.append(f"@@@ SEARCH: {block.path} {AT}\n{block.search}{AT}\n")
            out.append(f"{block.replace}@@@ REPLACE {AT}\n")
    return "".join(out)


def _body_line(block: EditBlock) -> int:
    """1-based line where the block's search text starts in its reply."""
    return block.line + 1


def test_parser_reproduces_the_gold_file_exactly() -> None:
    rendered = "".join(_render(section) for section in _sections())
    gold = GOLD.read_text(encoding="utf-8")
    assert rendered == gold
    assert len(_blocks()) == gold.count("\n@@@ SEARCH: ") == 577
    assert gold.count("\n\n@@@ #### ") == 401


def test_every_search_text_is_found_where_the_gold_says_it_applies() -> None:
    located = new_files = 0
    for section, block in _blocks():
        if not block.search.strip():
            new_files += 1  # an empty SEARCH creates a file: nothing to locate
            continue
        lines = [m.line for m in find_matches(section.content, block.search)]
        assert _body_line(block) in lines, (section.header, block.path)
        located += 1
    assert (located, new_files) == (573, 4)


def _spaced(text: str) -> str:
    """Trailing spaces on every line and doubled spaces between words."""
    return "\n".join(
        re.sub(r"(\S) (\S)", r"\1  \2", line) + "  " if line.strip() else line
        for line in text.split("\n")
    )


def _indented(text: str) -> str:
    return "\n".join("    " + line if line.strip() else line for line in text.split("\n"))


@pytest.mark.parametrize(
    ("damage", "level", "damage_replace"),
    [(_spaced, "whitespace", False), (_indented, "indent", True)],
    ids=["whitespace", "indent"],
)
def test_damaged_search_texts_are_found_at_the_same_place(
    damage: Callable[[str], str], level: str, damage_replace: bool
) -> None:
    located = applied = 0
    for section, block in _blocks():
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
    assert (located, applied) == (573, 419)


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


def test_a_typo_is_found_at_the_same_place_or_refused_never_elsewhere() -> None:
    outcome = {"found": 0, "refused": 0, "elsewhere": 0}
    for section, block in _blocks():
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
    assert outcome == {"found": 419, "refused": 47, "elsewhere": 0}
