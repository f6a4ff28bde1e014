"""apply_patch on real files: a corpus of envelopes as GPT and Codex models write
them — adds, deletes, moves, several hunks, damaged context, CRLF — and patches
that must fail without writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.apply_patch import (
    PatchError,
    apply_patch,
    codex_trained,
    parse_patch,
    patch_paths,
    shell_patch,
)

CALC = """\
def add(a, b):
    return a + b


def mean(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)


def clamp(x, lo, hi):
    return max(lo, min(x, hi))
"""


def envelope(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


async def run(work: Path, patch: str) -> ToolResult:
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox())
    return await apply_patch.run(ToolCall("p1", "apply_patch", {"input": patch}), ctx)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "calc").mkdir()
    (tmp_path / "calc" / "ops.py").write_text(CALC)
    (tmp_path / "notes.txt").write_text("one\ntwo\n")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_add_update_and_delete_in_one_patch(work: Path) -> None:
    patch = envelope(
        "*** Add File: docs/guide/intro.md",
        "+# Intro",
        "+",
        "+Hello.",
        "*** Update File: calc/ops.py",
        "@@ def mean(values):",
        "-    total = 0",
        "-    for v in values:",
        "-        total += v",
        "-    return total / len(values)",
        "+    if not values:",
        "+        return 0.0",
        "+    return sum(values) / len(values)",
        "*** Delete File: notes.txt",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert (work / "docs" / "guide" / "intro.md").read_text() == "# Intro\n\nHello.\n"
    assert "return sum(values) / len(values)" in (work / "calc" / "ops.py").read_text()
    assert "total = 0" not in (work / "calc" / "ops.py").read_text()
    assert not (work / "notes.txt").exists()
    assert result.text.splitlines() == [
        "Applied the patch:",
        "A docs/guide/intro.md (3 lines)",
        "M calc/ops.py (+3/-4 lines)",
        "D notes.txt",
    ]


async def test_several_hunks_in_order_with_context_lines(work: Path) -> None:
    patch = envelope(
        "*** Update File: calc/ops.py",
        "@@",
        " def add(a, b):",
        "-    return a + b",
        "+    return b + a",
        "@@ def clamp(x, lo, hi):",
        "-    return max(lo, min(x, hi))",
        "+    if lo > hi:",
        "+        raise ValueError('lo > hi')",
        "+    return max(lo, min(x, hi))",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert (work / "calc" / "ops.py").read_text() == CALC.replace(
        "return a + b", "return b + a"
    ).replace(
        "    return max(lo, min(x, hi))",
        "    if lo > hi:\n        raise ValueError('lo > hi')\n    return max(lo, min(x, hi))",
    )


async def test_a_hunk_after_a_context_line_picks_the_later_place(tmp_path: Path) -> None:
    (tmp_path / "twice.py").write_text(
        "class A:\n    def run(self):\n        return 1\n\n"
        "class B:\n    def run(self):\n        return 1\n"
    )
    patch = envelope(
        "*** Update File: twice.py",
        "@@ class B:",
        "     def run(self):",
        "-        return 1",
        "+        return 2",
    )
    assert not (await run(tmp_path, patch)).is_error
    assert (tmp_path / "twice.py").read_text().endswith("        return 2\n")
    assert "        return 1\n\nclass B" in (tmp_path / "twice.py").read_text()


async def test_move_with_a_hunk_and_a_pure_rename(work: Path) -> None:
    patch = envelope(
        "*** Update File: calc/ops.py",
        "*** Move to: lib/arith/ops.py",
        "@@",
        "-def add(a, b):",
        "+def plus(a, b):",
        "*** Update File: notes.txt",
        "*** Move to: notes.md",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert not (work / "calc" / "ops.py").exists() and not (work / "notes.txt").exists()
    assert (work / "lib" / "arith" / "ops.py").read_text().startswith("def plus(a, b):\n")
    assert (work / "notes.md").read_text() == "one\ntwo\n"
    assert "R calc/ops.py → lib/arith/ops.py (+1/-1 lines)" in result.text


async def test_whitespace_damaged_context_still_applies(work: Path) -> None:
    # Trailing spaces and doubled spaces: the whitespace level. The file's own
    # context lines stay as they are.
    patch = envelope(
        "*** Update File: calc/ops.py",
        "@@",
        " def mean(values):   ",
        "     total  =  0",
        "-    for v in  values:",
        "+    for v in list(values):",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert (work / "calc" / "ops.py").read_text() == CALC.replace(
        "for v in values", "for v in list(values)"
    )
    assert "(+1/-1 lines; hunk 1: matched ignoring whitespace differences)" in result.text


async def test_a_hunk_at_another_indentation_is_reindented(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("class K:\n    def f(self):\n        x = 1\n        return x\n")
    patch = envelope(
        "*** Update File: m.py",
        "@@",
        " def f(self):",
        "-    x = 1",
        "+    x = 2",
        "     return x",
    )
    result = await run(tmp_path, patch)
    assert not result.is_error, result.text
    assert (tmp_path / "m.py").read_text() == (
        "class K:\n    def f(self):\n        x = 2\n        return x\n"
    )
    assert "another indentation" in result.text


async def test_a_slightly_wrong_line_is_a_fuzzy_match(work: Path) -> None:
    patch = envelope(
        "*** Update File: calc/ops.py",
        "@@",
        " def clamp(x, low, hi):",
        "-    return max(lo, min(x, hi))",
        "+    return min(hi, max(lo, x))",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert (work / "calc" / "ops.py").read_text() == CALC.replace(
        "return max(lo, min(x, hi))", "return min(hi, max(lo, x))"
    )
    assert "fuzzy" in result.text


async def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    (tmp_path / "win.txt").write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    patch = envelope(
        "*** Update File: win.txt", "@@", " alpha", "-beta", "+BETA", "+beta two", " gamma"
    )
    result = await run(tmp_path, patch)
    assert not result.is_error, result.text
    assert (tmp_path / "win.txt").read_bytes() == b"alpha\r\nBETA\r\nbeta two\r\ngamma\r\n"


async def test_a_patch_sent_with_crlf_lines_applies(work: Path) -> None:
    patch = envelope("*** Update File: notes.txt", "@@", "-two", "+2").replace("\n", "\r\n")
    assert not (await run(work, patch)).is_error
    assert (work / "notes.txt").read_text() == "one\n2\n"


async def test_deleting_lines_leaves_no_blank_line(work: Path) -> None:
    patch = envelope("*** Update File: notes.txt", "@@", " one", "-two")
    assert not (await run(work, patch)).is_error
    assert (work / "notes.txt").read_text() == "one\n"


async def test_pure_additions_after_a_context_line_and_at_the_end(work: Path) -> None:
    patch = envelope(
        "*** Update File: notes.txt",
        "@@ one",
        "+one and a half",
        "*** Update File: calc/ops.py",
        "@@",
        "+",
        "+",
        "+def half(x):",
        "+    return x / 2",
    )
    assert not (await run(work, patch)).is_error, "pure additions apply"
    assert (work / "notes.txt").read_text() == "one\none and a half\ntwo\n"
    assert (work / "calc" / "ops.py").read_text() == CALC + "\n\ndef half(x):\n    return x / 2\n"


async def test_end_of_file_marker_matches_the_last_lines(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x\nend\nx\nend\n")
    patch = envelope("*** Update File: f.txt", "@@", " x", "-end", "+END", "*** End of File")
    assert not (await run(tmp_path, patch)).is_error
    assert (tmp_path / "f.txt").read_text() == "x\nend\nx\nEND\n"


async def test_heredoc_wrapping_and_padded_markers_are_accepted(work: Path) -> None:
    patch = (
        "<<'EOF'\n  *** Begin Patch  \n*** Update File: notes.txt\n@@\n-one\n+1\n"
        "*** End Patch \nEOF\n"
    )
    assert not (await run(work, patch)).is_error
    assert (work / "notes.txt").read_text() == "1\ntwo\n"


async def test_blank_lines_between_hunks_are_not_context(work: Path) -> None:
    patch = envelope(
        "*** Update File: calc/ops.py",
        "@@ def add(a, b):",
        "-    return a + b",
        "+    return a + b  # sum",
        "",
        "@@ def clamp(x, lo, hi):",
        "-    return max(lo, min(x, hi))",
        "+    return max(lo, min(x, hi))  # clamp",
    )
    result = await run(work, patch)
    assert not result.is_error, result.text
    assert "ignoring" not in result.text  # both hunks matched exactly
    assert (work / "calc" / "ops.py").read_text().count("  # ") == 2


async def test_a_hunk_that_does_not_match_names_the_file_and_hunk_and_writes_nothing(
    work: Path,
) -> None:
    before = snapshot(work)
    patch = envelope(
        "*** Add File: new.txt",
        "+fresh",
        "*** Update File: notes.txt",
        "@@",
        "-one",
        "+1",
        "*** Update File: calc/ops.py",
        "@@",
        " def add(a, b):",
        "-    return a + b",
        "+    return a + b + 0",
        "@@",
        " def multiply(a, b):",
        "-    return a * b",
        "+    return b * a",
        "*** Delete File: notes.txt",
    )
    result = await run(work, patch)
    assert result.is_error
    assert result.text.startswith(
        "calc/ops.py: hunk 2 (patch line 13, starting 'def multiply(a, b):')"
    )
    assert "does not match the file" in result.text and "Nothing was written" in result.text
    assert snapshot(work) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (["*** Delete File: missing.txt"], "missing.txt does not exist"),
        (["*** Update File: missing.py", "@@", "-a", "+b"], "missing.py does not exist"),
        (["*** Add File: notes.txt", "+again"], "Add File: notes.txt exists"),
        (["*** Update File: notes.txt", "*** Move to: calc/ops.py"], "Move to: calc/ops.py exists"),
        (["*** Update File: notes.txt"], "Update File: notes.txt has no hunks"),
        (["*** Update File: notes.txt", "@@", "two"], "'two' is not a hunk line"),
        (["*** Frobnicate File: notes.txt"], "patch line 2: expected"),
        ([], "the patch changes no file"),
        (["*** Update File: notes.txt", "@@", " two", "-one", "+1"], "notes.txt: hunk 1"),
        (["*** Update File: notes.txt", "@@", "-one", "+1", "*** End of File"], "End of File"),
    ],
)
async def test_patches_that_fail_write_nothing(work: Path, body: list[str], message: str) -> None:
    before = snapshot(work)
    result = await run(work, envelope(*body))
    assert result.is_error and message in result.text, result.text
    assert snapshot(work) == before


async def test_the_envelope_must_be_complete(work: Path) -> None:
    missing_end = await run(work, "*** Begin Patch\n*** Delete File: notes.txt\n")
    assert missing_end.is_error and "ends with the line '*** End Patch'" in missing_end.text
    no_begin = await run(work, "*** Delete File: notes.txt\n*** End Patch\n")
    assert no_begin.is_error and "starts with the line '*** Begin Patch'" in no_begin.text
    assert (work / "notes.txt").exists()


async def test_a_file_can_be_deleted_and_added_again_in_one_patch(work: Path) -> None:
    patch = envelope("*** Delete File: notes.txt", "*** Add File: notes.txt", "+fresh")
    assert not (await run(work, patch)).is_error
    assert (work / "notes.txt").read_text() == "fresh\n"


def test_patch_paths_lists_every_file_written_or_deleted() -> None:
    patch = envelope(
        "*** Add File: a.txt",
        "+x",
        "*** Update File: b.py",
        "*** Move to: c/b.py",
        "@@",
        "-x",
        "+y",
        "*** Delete File: d.txt",
    )
    assert patch_paths(patch) == ["a.txt", "b.py", "c/b.py", "d.txt"]
    assert [op.kind for op in parse_patch(patch)] == ["add", "update", "delete"]
    with pytest.raises(PatchError):
        patch_paths("not a patch")


def test_the_shell_form_codex_cli_models_send() -> None:
    body = envelope("*** Add File: a.txt", "+x")
    assert shell_patch(f"apply_patch <<'EOF'\n{body}EOF\n") == body.rstrip("\n")
    assert shell_patch(f'apply_patch <<"PATCH"\n{body}PATCH') == body.rstrip("\n")
    assert shell_patch(f"cat <<'EOF'\n{body}EOF\n") is None
    assert shell_patch("apply_patch <<'EOF'\nhello\nEOF\n") is None
    assert shell_patch("echo apply_patch") is None


@pytest.mark.parametrize(
    ("model", "trained"),
    [
        ("gpt-4.1", True),
        ("gpt-5-codex", True),
        ("o3-mini", True),
        ("o4-mini", True),
        ("o1", True),
        ("openai/gpt-4o", True),
        ("codex-mini-latest", True),
        ("claude-sonnet-4-5", False),
        ("qwen2.5-coder:7b", False),
        ("deepseek-chat", False),
        ("llama-3.1-o1-distill", False),
        ("fake-model", False),
    ],
)
def test_which_model_names_look_codex_trained(model: str, trained: bool) -> None:
    assert codex_trained(model) is trained
