"""``@path`` attachments, on real files."""

from __future__ import annotations

import base64
from pathlib import Path

from mnemocode.cli.attachments import collect_attachments, expand_attachments, find_tokens
from mnemocode.core.types import ImagePart

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_tokens_quoted_bare_and_not_inside_words() -> None:
    found = find_tokens('look at @src/a.py and @"my notes.md", mail me at bob@example.com')
    assert found == [("@src/a.py", "src/a.py"), ('@"my notes.md"', "my notes.md")]


def test_text_file_is_inlined_in_a_file_block(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("print('hi')\nprint('bye')\n")
    message = expand_attachments("explain @src/a.py please", tmp_path, vision=False, max_chars=1000)
    assert message.role == "user"
    assert message.text.startswith("explain @src/a.py please")
    assert "<file path=\"src/a.py\">\nprint('hi')\nprint('bye')\n</file>" in message.text


def test_trailing_punctuation_is_not_part_of_the_path(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    message = expand_attachments("see @a.py, then fix", tmp_path, vision=False, max_chars=1000)
    assert '<file path="a.py">' in message.text


def test_quoted_path_with_spaces(tmp_path: Path) -> None:
    (tmp_path / "my notes.md").write_text("# notes\n")
    message = expand_attachments('read @"my notes.md"', tmp_path, vision=False, max_chars=1000)
    assert '<file path="my notes.md">\n# notes\n</file>' in message.text


def test_long_file_is_cut_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 5000)
    message = expand_attachments("@big.txt", tmp_path, vision=False, max_chars=100)
    block = message.text.split('<file path="big.txt">\n', 1)[1].split("\n</file>", 1)[0]
    assert block == "x" * 100
    assert "cut at 100 of 5000 characters" in message.text


def test_cap_is_shared_by_all_attachments(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a" * 80)
    (tmp_path / "b.txt").write_text("b" * 80)
    (tmp_path / "c.txt").write_text("c" * 80)
    items = collect_attachments("@a.txt @b.txt @c.txt", tmp_path, vision=False, max_chars=100)
    assert [i.kind for i in items] == ["text", "text", "skipped"]
    assert "cut at 20 of 80" in items[1].note


def test_image_attached_as_image_part_with_vision(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(PNG)
    message = expand_attachments("what is @shot.png", tmp_path, vision=True, max_chars=1000)
    images = [p for p in message.content if isinstance(p, ImagePart)]
    assert len(images) == 1
    assert images[0].media_type == "image/png"
    assert base64.b64decode(images[0].data_b64) == PNG


def test_image_without_vision_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(PNG)
    message = expand_attachments("what is @shot.png", tmp_path, vision=False, max_chars=1000)
    assert not [p for p in message.content if isinstance(p, ImagePart)]
    assert "shot.png: image not attached (the current model has no vision)" in message.text


def test_directory_is_listed_without_git(tmp_path: Path) -> None:
    (tmp_path / "pkg" / ".git").mkdir(parents=True)
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("")
    message = expand_attachments("@pkg", tmp_path, vision=False, max_chars=1000)
    assert '<directory path="pkg">\nsub/\nmod.py\n</directory>' in message.text


def test_missing_path_left_as_typed_with_a_note(tmp_path: Path) -> None:
    message = expand_attachments("fix @nope.py", tmp_path, vision=False, max_chars=1000)
    assert message.text.startswith("fix @nope.py")
    assert "nope.py: no such file or directory" in message.text


def test_binary_file_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    items = collect_attachments("@blob.bin", tmp_path, vision=True, max_chars=1000)
    assert items[0].kind == "binary"
    assert (
        "binary file" in expand_attachments("@blob.bin", tmp_path, vision=True, max_chars=10).text
    )


def test_no_attachments_leaves_the_text_alone(tmp_path: Path) -> None:
    message = expand_attachments("just a question", tmp_path, vision=False, max_chars=1000)
    assert message.text == "just a question"
    assert len(message.content) == 1
