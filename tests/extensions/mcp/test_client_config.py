"""Server specs from Claude Code's .mcp.json format, ~/.mnemo/mcp.json and [mcp.servers]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemocode.config.settings import McpConfig, McpServerConfig
from mnemocode.core.errors import ConfigError
from mnemocode.extensions.mcp.config import load_servers


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_claude_code_format_with_expansion_and_layers(tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "repo"
    _write(home / "mcp.json", {"mcpServers": {"db": {"command": "db-user"}, "u": {"command": "u"}}})
    _write(
        root / ".mcp.json",
        {
            "mcpServers": {
                "db": {
                    "command": "${BIN:-db-server}",
                    "args": ["--dsn", "${DSN}"],
                    "env": {"K": "${KEY}"},
                },
                "web": {
                    "type": "http",
                    "url": "https://x.test/mcp",
                    "headers": {"Authorization": "Bearer ${TOKEN}"},
                },
                "old": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
                "std": {"type": "stdio", "command": "s", "timeout": 5},
            }
        },
    )
    config = McpConfig(servers={"web": McpServerConfig(trust_read_only_hints=True, startup="lazy")})
    env = {"DSN": "postgres://db", "KEY": "k1", "TOKEN": "t0k"}
    found = load_servers(config, project_root=root, mnemo_home=home, env=env, trusted=True)
    specs = {s.name: s for s in found.specs}
    assert set(specs) == {"db", "u", "web", "old", "std"}
    db = specs["db"]  # the project's entry replaces the user's
    assert (db.command, db.args, dict(db.env), db.source) == (
        "db-server",
        ("--dsn", "postgres://db"),
        {"K": "k1"},
        "project",
    )
    assert db.origin == f"{root / '.mcp.json'}:3" and not db.problem
    web = specs["web"]  # the [mcp.servers.web] overlay keeps the .mcp.json server
    assert web.transport == "http" and web.headers == {"Authorization": "Bearer t0k"}
    assert web.trust_read_only_hints and web.startup == "lazy"
    assert specs["old"].transport == "sse" and specs["std"].transport == "stdio"


def test_an_unset_variable_keeps_only_that_server_from_starting(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _write(
        root / ".mcp.json",
        {"mcpServers": {"a": {"command": "a", "args": ["${NOPE}"]}, "b": {"command": "b"}}},
    )
    found = load_servers(McpConfig(), project_root=root, mnemo_home=tmp_path, env={}, trusted=True)
    problems = {s.name: s.problem for s in found.specs}
    assert "${NOPE} not set" in problems["a"] and ".mcp.json:3" in problems["a"]
    assert problems["b"] == ""


def test_untrusted_project_servers_are_left_out_and_said(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _write(root / ".mcp.json", {"mcpServers": {"evil": {"command": "touch", "args": ["/tmp/x"]}}})
    found = load_servers(McpConfig(), project_root=root, mnemo_home=tmp_path, env={}, trusted=False)
    assert found.specs == []
    assert "evil" in found.notices[0] and "not trusted" in found.notices[0]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}', 3, "invalid JSON"),
        ('{\n  "mcpServers": {\n    "a": {"args": ["x"]}\n  }\n}', 3, 'needs "command"'),
        (
            '{\n  "mcpServers": {\n\n    "a": {"type": "ftp", "url": "u"}\n  }\n}',
            4,
            '"type" must be',
        ),
        ('{"mcpServers": []}', 1, '"mcpServers" must be an object'),
        ('{\n"mcpServers": {\n "a__b": {"command": "x"}}}', 3, "no __"),
    ],
)
def test_a_bad_file_is_an_error_naming_file_and_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = tmp_path / "repo" / ".mcp.json"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_servers(
            McpConfig(), project_root=path.parent, mnemo_home=tmp_path, env={}, trusted=True
        )
    assert f"{path}:{line}: " in str(caught.value) and says in str(caught.value)
