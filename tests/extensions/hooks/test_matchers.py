"""Claude Code's matcher rules on our tool names and theirs, MCP names included;
config problems named by file and line, the other hooks kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemocode.config.settings import HookConfig
from mnemocode.extensions.hooks.config import load_hooks
from mnemocode.extensions.hooks.names import claude_input, compile_matcher, matches, names_of


@pytest.mark.parametrize(
    ("matcher", "tool", "hit"),
    [
        ("", "shell_exec", True),
        ("*", "mcp__git__git_status", True),
        ("Bash", "shell_exec", True),
        ("shell_exec", "shell_exec", True),
        ("Bash", "file_read", False),
        ("Edit|Write", "file_edit", True),
        ("Edit|Write", "file_write", True),
        ("Edit|Write", "file_read", False),
        ("MultiEdit", "file_edit", True),
        ("Bash", "BashOutput", False),  # a plain name is exact, not a substring
        ("mcp__git__git_status", "mcp__git__git_status", True),
        ("mcp__git", "mcp__git__git_status", False),  # as in Claude Code: exact, so nothing
        ("mcp__git__.*", "mcp__git__git_log", True),
        ("mcp__git__.*", "mcp__github__list", False),
        ("mcp__.*__write.*", "mcp__fs__write_file", True),
        ("^Read$", "file_read", True),
        ("Notebook.*", "file_read", False),
    ],
)
def test_matcher(matcher: str, tool: str, hit: bool) -> None:
    assert matches(compile_matcher(matcher), names_of(tool)) is hit


def test_tool_input_takes_claude_codes_field_names() -> None:
    assert claude_input("file_edit", {"path": "a.py", "old_string": "x", "new_string": "y"}) == {
        "file_path": "a.py",
        "old_string": "x",
        "new_string": "y",
    }
    assert claude_input("shell_exec", {"command": "ls"}) == {"command": "ls"}


def test_bad_entries_are_named_by_file_and_line_and_the_rest_load(tmp_path: Path) -> None:
    root = tmp_path / "work"
    (root / ".claude").mkdir(parents=True)
    settings = {
        "hooks": {
            "PreToolUse": [
                {"matcher": "Bash(", "hooks": [{"type": "command", "command": "echo bad"}]},
                {"matcher": "Bash", "hooks": [{"type": "prompt", "prompt": "is it ok?"}]},
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo good"}]},
            ],
            "OnCoffee": [],
        }
    }
    path = root / ".claude" / "settings.json"
    path.write_text(json.dumps(settings, indent=2))
    configured = {"Stop": [HookConfig(command="echo from-config")]}
    found = load_hooks(configured, project_root=root, user_home=tmp_path / "home", trusted=True)  # type: ignore[arg-type]
    assert [(h.event, h.command, h.source) for h in found.hooks] == [
        ("Stop", "echo from-config", "mnemo config"),
        ("PreToolUse", "echo good", ".claude/settings.json"),
    ]
    notes = "\n".join(found.notices)
    lines = path.read_text().splitlines()

    def line_of(needle: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if needle in line)

    assert f"{path}:{line_of('Bash(')}: PreToolUse hook skipped: bad matcher" in notes
    assert "type 'prompt' means nothing here" in notes
    assert f"{path}:{line_of('OnCoffee')}: unknown hook event 'OnCoffee'" in notes
    untrusted = load_hooks({}, project_root=root, user_home=tmp_path / "home", trusted=False)
    assert not untrusted.hooks and "not trusted" in untrusted.notices[0]


def test_mnemo_config_hooks_come_from_toml(tmp_path: Path, isolated_home: Path) -> None:
    from mnemocode.config.loader import load_settings
    from tests.conftest import write_global_config

    write_global_config(
        isolated_home,
        '[[hooks.PreToolUse]]\nmatcher = "Bash"\ncommand = "echo hi"\ntimeout = 5\n',
    )
    hooks = load_settings(tmp_path).settings.hooks
    assert hooks["PreToolUse"][0].command == "echo hi" and hooks["PreToolUse"][0].timeout == 5
    write_global_config(isolated_home, '[[hooks.OnCoffee]]\ncommand = "echo hi"\n')
    from mnemocode.core.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert "config.toml" in str(err.value)
