"""Prompt completion: slash commands, model aliases, ``@`` paths."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from mnemocode.cli.commands import default_commands
from mnemocode.cli.completion import ReplCompleter


def complete(completer: ReplCompleter, text: str) -> list[str]:
    document = Document(text, len(text))
    found = completer.get_completions(document, CompleteEvent(completion_requested=True))
    return [document.text[: len(text) + c.start_position] + c.text for c in found]


def make(cwd: Path) -> ReplCompleter:
    return ReplCompleter(default_commands().summaries, lambda: ["local", "gpt", "test"], cwd)


def test_slash_commands_with_descriptions(tmp_path: Path) -> None:
    completer = make(tmp_path)
    assert complete(completer, "/c") == ["/clear", "/compact", "/context", "/cost"]
    metas = {
        c.text: c.display_meta_text
        for c in completer.get_completions(Document("/he"), CompleteEvent())
    }
    assert metas == {"/help": "list commands and input keys"}


def test_model_aliases_after_model(tmp_path: Path) -> None:
    assert complete(make(tmp_path), "/model ") == ["/model gpt", "/model local", "/model test"]
    assert complete(make(tmp_path), "/model lo") == ["/model local"]


def test_paths_after_at_skip_git_and_mark_folders(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("")
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "my file.txt").write_text("")
    completer = make(tmp_path)
    assert complete(completer, "look at @s") == ["look at @setup.cfg", "look at @src/"]
    assert complete(completer, "look at @src/a") == ["look at @src/app.py"]
    assert complete(completer, "@my") == ['@"my file.txt"']
    assert complete(completer, "@.g") == []
    assert complete(completer, "mail bob@s") == []
