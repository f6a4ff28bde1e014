"""The edit engine as pure functions: the matching cascade, ambiguity and no-match
errors, replace_all, re-indentation, line-ending bookkeeping."""

from __future__ import annotations

import time

import pytest

from mnemocode.tools.edit import (
    AmbiguousMatchError,
    EditError,
    NoMatchError,
    apply_edit,
    find_match,
    find_matches,
    restore_eols,
)

CODE = """\
import os


def load(path):
    with open(path) as fh:
        data = fh.read()
    return data


class Store:
    def save(self, path, data):
        with open(path, "w") as fh:
            fh.write(data)
        return len(data)
"""


def test_exact_unique_match_is_replaced() -> None:
    result = apply_edit(CODE, "data = fh.read()", "data = fh.read().strip()")
    assert result.level == "exact"
    assert "        data = fh.read().strip()\n" in result.text
    assert result.text.replace(".strip()", "") == CODE
    match = find_match(CODE, "data = fh.read()")
    assert (match.line, match.end_line) == (6, 6)


def test_several_exact_matches_without_replace_all_name_their_lines() -> None:
    with pytest.raises(AmbiguousMatchError) as info:
        apply_edit(CODE, "open(path", "io.open(path")
    assert info.value.lines == [5, 12]
    assert "2 places" in str(info.value) and "5, 12" in str(info.value)
    assert "replace_all" in str(info.value)


def test_replace_all_replaces_every_occurrence() -> None:
    result = apply_edit(CODE, "open(path", "io.open(path", replace_all=True)
    assert [m.line for m in result.matches] == [5, 12]
    assert result.text.count("io.open(path") == 2 and "(open(path" not in result.text


def test_whitespace_level_ignores_trailing_space_and_runs_of_spaces() -> None:
    text = "def f():\n    x  =  1   \n    y = 2\t\n    return x\n"
    result = apply_edit(text, "    x = 1\n    y = 2\n", "    x = 10\n    y = 20\n")
    assert result.level == "whitespace"
    assert result.text == "def f():\n    x = 10\n    y = 20\n    return x\n"


def test_indent_level_reindents_the_replacement() -> None:
    old = "with open(path) as fh:\n    data = fh.read()\n"
    new = "with open(path, encoding='utf-8') as fh:\n    data = fh.read()\n    log(data)\n"
    result = apply_edit(CODE, old, new)
    assert result.level == "indent"
    assert result.matches[0].add == "    "
    assert (
        "    with open(path, encoding='utf-8') as fh:\n"
        "        data = fh.read()\n"
        "        log(data)\n"
        "    return data\n"
    ) in result.text


def test_indent_level_also_removes_extra_indentation() -> None:
    text = "if x:\n  a()\n  b()\n"
    result = apply_edit(text, "        a()\n        b()", "        a()\n          c()")
    assert result.level == "indent" and result.matches[0].remove == "      "
    assert result.text == "if x:\n  a()\n    c()\n"


def test_fuzzy_level_finds_a_block_with_a_typo() -> None:
    old = (
        "    def save(self, path, data):\n"
        "        with open(path, 'w') as fh:\n"  # quotes differ from the file
        "            fh.write(data)\n"
        "        return len(data)\n"
    )
    new = "    def save(self, path, data):\n        Path(path).write_text(data)\n"
    match = find_match(CODE, old)
    assert match.level == "fuzzy" and match.score >= 0.85
    assert (match.line, match.end_line) == (11, 14)
    result = apply_edit(CODE, old, new)
    assert result.text.endswith(
        "class Store:\n    def save(self, path, data):\n        Path(path).write_text(data)\n"
    )


def test_fuzzy_refuses_when_two_places_are_equally_close() -> None:
    text = "def a():\n    return compute(1, 2)\n\n\ndef b():\n    return compute(1, 3)\n"
    with pytest.raises(AmbiguousMatchError) as info:
        find_match(text, "    return compute(1, 4)\n")
    assert info.value.lines == [2, 6]


def test_no_match_shows_the_closest_places_with_line_numbers() -> None:
    with pytest.raises(NoMatchError) as info:
        apply_edit(CODE, "def load(path, mode, retries=3):\n    with io.open(path) as f:\n", "x")
    message = str(info.value)
    assert "not found" in message and "lines 4-5" in message
    assert "     4\tdef load(path):" in message
    assert info.value.candidates and info.value.candidates[0].line == 4
    with pytest.raises(NoMatchError):
        apply_edit(CODE, "something that is nowhere in the text at all", "x")


def test_identical_and_empty_old_strings_are_errors() -> None:
    with pytest.raises(EditError, match="identical"):
        apply_edit(CODE, "import os", "import os")
    with pytest.raises(EditError, match="empty"):
        find_matches(CODE, "")


def test_deleting_whole_lines_leaves_no_blank_line() -> None:
    assert apply_edit("a\nb\nc\n", "b\n", "").text == "a\nc\n"  # exact
    result = apply_edit("a\n  b  \nc\n", "b", "")  # exact, inside the line
    assert result.text == "a\n    \nc\n"
    result = apply_edit("a\n  b  c\nd\n", "  b c\n", "")  # whitespace level: whole line
    assert result.level == "whitespace" and result.text == "a\nd\n"
    result = apply_edit("a\nb\n  c", "c", "")  # the last line, no newline after it
    assert result.text == "a\nb\n  "
    result = apply_edit("a\nb\n  c  d", "c d", "")
    assert result.level == "indent" and result.text == "a\nb"


def test_blank_lines_around_old_are_not_required() -> None:
    text = "x = 1\ny = 2\nz = 3\n"
    result = apply_edit(text, "\ny = 2 \n\n", "\ny = 20\n\n")
    assert result.text == "x = 1\ny = 20\nz = 3\n"


def test_crlf_in_old_and_new_is_normalised() -> None:
    result = apply_edit("a\nb\nc\n", "a\r\nb\r\n", "A\r\nB\r\n")
    assert result.text == "A\nB\nc\n"


def test_restore_eols_keeps_untouched_endings_and_uses_the_local_one_for_new_lines() -> None:
    text = "one\ntwo\nthree\nfour\n"
    eols = ["\n", "\r\n", "\r\n", "\n"]
    result = apply_edit(text, "two\nthree", "2\n2.5\n3")
    new_eols = restore_eols(eols, text, result.spans, "\n")
    assert new_eols == ["\n", "\r\n", "\r\n", "\r\n", "\n"]
    pieces = result.text.split("\n")
    rebuilt = pieces[0] + "".join(e + p for e, p in zip(new_eols, pieces[1:], strict=True))
    assert rebuilt == "one\n2\r\n2.5\r\n3\r\nfour\n"


def test_big_files_stay_fast() -> None:
    lines = [f"    value_{i} = compute({i}, {i * 7 % 13})  # step {i}" for i in range(20_000)]
    text = "\n".join(lines) + "\n"
    block = "\n".join(lines[12_000:12_040]).replace("compute(12010,", "compute(12_010,")
    started = time.monotonic()
    match = find_match(text, block)
    assert match.level == "fuzzy" and match.line == 12_001
    with pytest.raises(NoMatchError):
        find_match(text, "def this_function_is_not_there(a, b):\n    return a + b\n")
    assert time.monotonic() - started < 5
