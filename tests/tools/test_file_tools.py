"""file_read, file_write and file_edit on real files in tmp_path."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ImagePart, TextPart, ToolCall, ToolResult
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.tools.base import Tool
from mnemocode.tools.edit import file_edit
from mnemocode.tools.files import atomic_write, file_read, file_write

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40


def _ctx(tmp_path: Path, *, vision: bool = False, **settings: Any) -> ToolContext:
    return ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), vision=vision, settings=settings)


async def _call(tool: Tool, ctx: ToolContext, **args: Any) -> ToolResult:
    return await tool.run(ToolCall("c1", tool.name, args), ctx)


# ---- file_read -----------------------------------------------------------------------


async def test_read_numbers_lines_and_pages(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 251)))
    ctx = _ctx(tmp_path, file_read_max_lines=100)
    first = await _call(file_read, ctx, path="big.txt")
    lines = first.text.splitlines()
    assert lines[0] == "     1\tline 1" and lines[99] == "   100\tline 100"
    assert "lines 1-100 of 250; call file_read with offset=101 to read more" in lines[-1]
    last = await _call(file_read, ctx, path="big.txt", offset=241)
    assert last.text.splitlines()[0] == "   241\tline 241"
    assert last.text.splitlines()[-1] == "   250\tline 250"
    some = await _call(file_read, ctx, path=str(tmp_path / "big.txt"), offset=5, limit=2)
    assert some.text.splitlines()[:2] == ["     5\tline 5", "     6\tline 6"]
    past = await _call(file_read, ctx, path="big.txt", offset=999)
    assert past.is_error and "past the end" in past.text


async def test_read_cuts_very_long_lines(tmp_path: Path) -> None:
    (tmp_path / "min.js").write_text("x" * 5000 + "\nshort\n")
    result = await _call(file_read, _ctx(tmp_path), path="min.js")
    first, second = result.text.splitlines()
    assert first.endswith("… [line cut, 5000 chars]") and len(first) < 2100
    assert second == "     2\tshort"


async def test_read_describes_binary_files(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"abc\x00\x01\x02" * 100)
    (tmp_path / "tool").write_bytes(b"\x7fELF" + b"\x02" * 60)
    result = await _call(file_read, _ctx(tmp_path), path="data.bin")
    assert (
        not result.is_error
        and result.text == "data.bin is binary (binary data, 600 bytes); not shown."
    )
    elf = await _call(file_read, _ctx(tmp_path), path="tool")
    assert "ELF executable" in elf.text


async def test_read_images_only_for_vision_models(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(PNG)
    blind = await _call(file_read, _ctx(tmp_path), path="shot.png")
    assert "image/png" in blind.text and "cannot view images" in blind.text
    seeing = await _call(file_read, _ctx(tmp_path, vision=True), path="shot.png")
    kinds = [type(part) for part in seeing.content]
    assert kinds == [TextPart, ImagePart]
    image = seeing.content[1]
    assert isinstance(image, ImagePart) and image.media_type == "image/png"


async def test_read_reports_fallback_encodings_and_hides_the_bom(tmp_path: Path) -> None:
    (tmp_path / "legacy.txt").write_bytes("café “quoted”\n".encode("cp1252"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\n")
    legacy = await _call(file_read, _ctx(tmp_path), path="legacy.txt")
    assert legacy.text.splitlines()[0] == "     1\tcafé “quoted”"
    assert "not valid UTF-8; decoded as cp1252" in legacy.text
    bom = await _call(file_read, _ctx(tmp_path), path="bom.txt")
    assert bom.text == "     1\thello"


async def test_unchanged_rereads_get_a_short_note(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("a = 1\nb = 2\n")
    ctx = _ctx(tmp_path)
    assert "a = 1" in (await _call(file_read, ctx, path="mod.py")).text
    again = await _call(file_read, ctx, path="mod.py")
    assert "unchanged since you last read it" in again.text and "force=true" in again.text
    forced = await _call(file_read, ctx, path="mod.py", force=True)
    assert "a = 1" in forced.text
    part = await _call(file_read, ctx, path="mod.py", offset=2)  # another range: shown
    assert part.text == "     2\tb = 2"
    assert "unchanged" in (await _call(file_read, ctx, path="mod.py", offset=2)).text
    path.write_text("a = 1\nb = 3\n")
    assert "b = 3" in (await _call(file_read, ctx, path="mod.py")).text
    assert ctx.seen_files[str(path)]  # the whole-file entry is keyed by path


async def test_read_errors(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    missing = await _call(file_read, _ctx(tmp_path), path="nope.txt")
    assert missing.is_error and "does not exist" in missing.text
    folder = await _call(file_read, _ctx(tmp_path), path="dir")
    assert folder.is_error and "directory" in folder.text
    (tmp_path / "empty.txt").write_text("")
    assert "is empty" in (await _call(file_read, _ctx(tmp_path), path="empty.txt")).text


# ---- file_write ----------------------------------------------------------------------


async def test_write_creates_parents_and_summarises(tmp_path: Path) -> None:
    result = await _call(file_write, _ctx(tmp_path), path="a/b/new.py", content="x = 1\ny = 2\n")
    assert result.text == "Created a/b/new.py (2 lines)."
    assert (tmp_path / "a/b/new.py").read_text() == "x = 1\ny = 2\n"
    mode = stat.S_IMODE((tmp_path / "a/b/new.py").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    again = await _call(
        file_write, _ctx(tmp_path), path="a/b/new.py", content="x = 1\ny = 3\nz = 4\n"
    )
    assert again.text == "Wrote a/b/new.py (3 lines, +2/-1 lines)."


async def test_write_refuses_to_shrink_a_file_much_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "long.py"
    path.write_text("".join(f"def f{i}():\n    return {i}\n\n" for i in range(40)))
    before = path.read_text()
    refused = await _call(
        file_write, _ctx(tmp_path), path="long.py", content="def f0():\n    return 0\n"
    )
    assert (
        refused.is_error and "file_edit" in refused.text and "overwrite_shrink=true" in refused.text
    )
    assert path.read_text() == before
    small_cut = before[: int(len(before) * 0.8)]
    assert not (await _call(file_write, _ctx(tmp_path), path="long.py", content=small_cut)).is_error
    forced = await _call(
        file_write, _ctx(tmp_path), path="long.py", content="pass\n", overwrite_shrink=True
    )
    assert not forced.is_error and path.read_text() == "pass\n"


async def test_write_keeps_mode_and_line_endings_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_bytes(b"#!/bin/sh\r\necho old\r\n")
    path.chmod(0o755)
    await _call(file_write, _ctx(tmp_path), path="run.sh", content="#!/bin/sh\necho new\n")
    assert path.read_bytes() == b"#!/bin/sh\r\necho new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sh"]


def test_atomic_write_follows_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write(link, b"new")
    assert link.is_symlink() and target.read_text() == "new"


# ---- file_edit -----------------------------------------------------------------------


async def test_edit_replaces_and_returns_a_diff(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    result = await _call(
        file_edit, _ctx(tmp_path), path="m.py", old_string="return 1", new_string="return 2"
    )
    assert not result.is_error
    assert result.text.startswith("Edited m.py: 1 replacement at line 2.")
    assert "-    return 1" in result.text and "+    return 2" in result.text
    assert (tmp_path / "m.py").read_text() == "def f():\n    return 2\n"


async def test_edit_errors_go_back_to_the_model(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\ny = 2\nx = 1\n")
    ambiguous = await _call(
        file_edit, _ctx(tmp_path), path="m.py", old_string="x = 1", new_string="x = 3"
    )
    assert ambiguous.is_error and "m.py: old_string matches 2 places" in ambiguous.text
    assert "lines 1, 3" in ambiguous.text
    done = await _call(
        file_edit,
        _ctx(tmp_path),
        path="m.py",
        old_string="x = 1",
        new_string="x = 3",
        replace_all=True,
    )
    assert "2 replacements at lines 1, 3" in done.text
    missing = await _call(file_edit, _ctx(tmp_path), path="nope.py", old_string="a", new_string="b")
    assert missing.is_error and "does not exist" in missing.text
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    binary = await _call(file_edit, _ctx(tmp_path), path="b.bin", old_string="a", new_string="b")
    assert binary.is_error and "binary" in binary.text


async def test_empty_old_string_creates_a_file(tmp_path: Path) -> None:
    result = await _call(
        file_edit, _ctx(tmp_path), path="new/x.py", old_string="", new_string="a\n"
    )
    assert (
        result.text == "Created new/x.py (1 line)." and (tmp_path / "new/x.py").read_text() == "a\n"
    )
    refused = await _call(file_edit, _ctx(tmp_path), path="new/x.py", old_string="", new_string="b")
    assert refused.is_error and "not empty" in refused.text


async def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await _call(
        file_edit, _ctx(tmp_path), path="win.txt", old_string="two\n", new_string="2\n2.5\n"
    )
    assert path.read_bytes() == b"one\r\n2\r\n2.5\r\nthree\r\n"


async def test_mixed_line_endings_are_kept_per_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"a\nb\r\nc\nd\r\n")
    await _call(file_edit, _ctx(tmp_path), path="mixed.txt", old_string="b", new_string="b1\nb2")
    assert path.read_bytes() == b"a\nb1\r\nb2\r\nc\nd\r\n"
    await _call(file_edit, _ctx(tmp_path), path="mixed.txt", old_string="c\n", new_string="")
    assert path.read_bytes() == b"a\nb1\r\nb2\r\nd\r\n"


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("café “quoted” — ok\nline two\ntail ±\n".encode("cp1252"), "cp1252"),
        (b"caf\xe9 \x81\x8d odd bytes\nline two\ntail\n", "latin-1"),
    ],
)
async def test_legacy_encodings_round_trip_byte_exact(
    tmp_path: Path, raw: bytes, encoding: str
) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(raw)
    result = await _call(
        file_edit, _ctx(tmp_path), path="legacy.txt", old_string="line two", new_string="line 2"
    )
    assert not result.is_error
    assert path.read_bytes() == raw.replace(b"line two", b"line 2")
    assert raw.decode(encoding).replace("line two", "line 2").encode(encoding) == path.read_bytes()


async def test_text_the_encoding_cannot_hold_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    raw = "café\n".encode("cp1252")
    path.write_bytes(raw)
    result = await _call(
        file_edit, _ctx(tmp_path), path="legacy.txt", old_string="café", new_string="café ✓"
    )
    assert result.is_error and "cp1252" in result.text and path.read_bytes() == raw


async def test_bom_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "bom.cs"
    path.write_bytes(b"\xef\xbb\xbfclass A {}\r\n")
    await _call(
        file_edit, _ctx(tmp_path), path="bom.cs", old_string="class A", new_string="class B"
    )
    assert path.read_bytes() == b"\xef\xbb\xbfclass B {}\r\n"


async def test_edit_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "tool.sh"
    path.write_text("echo a\n")
    path.chmod(0o750)
    await _call(file_edit, _ctx(tmp_path), path="tool.sh", old_string="echo a", new_string="echo b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o750 and path.read_text() == "echo b\n"


async def test_edit_reports_non_exact_levels(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("class A:\n    def f(self):\n        return 1\n")
    result = await _call(
        file_edit,
        _ctx(tmp_path),
        path="m.py",
        old_string="def f(self):\n    return 1",
        new_string="def f(self):\n    return 2",
    )
    assert "different indentation" in result.text
    assert (tmp_path / "m.py").read_text() == "class A:\n    def f(self):\n        return 2\n"
