"""The trust store in the mnemo home, and what a folder asks for."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from mnemocode.config.trust import TrustStore, check_trust, folder_request, other_wants

Writer = Callable[[Path, str], Path]


def test_a_folder_without_project_config_needs_no_trust(
    project: Path, env: dict[str, str], write: Writer
) -> None:
    assert folder_request(project, env) is None
    found = check_trust(project, env)
    assert found.status == "none" and found.trust.trusted
    write(project / ".claude" / "settings.json", '{"hooks": {}}')
    request = folder_request(project, env)
    assert request is not None and not request.needs_trust  # listed: no hooks in it
    assert check_trust(project, env).status == "none"
    write(project / ".mcp.json", '{"mcpServers": {"x": {}}}')  # its servers need trust
    request = folder_request(project, env)
    assert request is not None and request.needs_trust
    assert check_trust(project, env).status == "unknown"


def test_answers_are_stored_in_the_home_keyed_by_the_resolved_root(
    tmp_path: Path, project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(project / "mnemo.toml", "[agent]\nmax_iterations = 3\n")
    link = tmp_path / "link"
    link.symlink_to(project)
    assert check_trust(link / "sub", env).status == "unknown"
    request = folder_request(link, env)
    assert request is not None and request.root == project.resolve()
    store = TrustStore(home)
    store.decide(request, "trusted", ("http://h/v1 (openai, key from $K)",))
    stored = tomllib.loads((home / "trust.toml").read_text())["folders"][str(project.resolve())]
    assert stored["decision"] == "trusted" and stored["fingerprint"] == request.fingerprint
    assert stored["endpoints"] == ["http://h/v1 (openai, key from $K)"]
    assert [p.name for p in project.iterdir()] == [".git", "mnemo.toml"]  # nothing in the repo
    assert not list(home.glob(".trust.toml.*"))  # the temporary file was renamed over
    found = check_trust(project, env)
    assert found.status == "trusted" and found.trust.endpoints == {
        "http://h/v1 (openai, key from $K)"
    }


def test_a_change_to_the_project_files_undoes_trust_until_asked_again(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(project / "mnemo.toml", "[agent]\nmax_iterations = 3\n")
    request = folder_request(project, env)
    assert request is not None
    TrustStore(home).decide(request, "trusted")
    write(project / ".mcp.json", "{}")  # a new file the folder wants counts as a change
    found = check_trust(project, env)
    assert found.status == "changed" and not found.trust.trusted
    assert check_trust(project, env, trust_run=True).trust.trusted


def test_no_and_revoke(project: Path, home: Path, env: dict[str, str], write: Writer) -> None:
    write(project / "mnemo.toml", "")
    request = folder_request(project, env)
    assert request is not None
    store = TrustStore(home)
    store.decide(request, "untrusted", ("ignored endpoint",))
    found = check_trust(project, env)
    assert found.status == "untrusted" and not found.trust.trusted
    assert found.record is not None and found.record.endpoints == ()
    assert store.revoke(project) and not store.revoke(project)
    assert check_trust(project, env).status == "unknown"


def test_other_tools_files_are_described(project: Path, write: Writer) -> None:
    from mnemocode.config.trust import FolderFile

    mcp = write(project / ".mcp.json", json.dumps({"mcpServers": {"db": {}, "web": {}}}))
    hooks = write(project / ".claude" / "settings.json", '{"hooks": {"PreToolUse": []}}')
    assert other_wants(FolderFile(mcp, "mcp", False)).startswith("start MCP servers: db, web")
    assert other_wants(FolderFile(hooks, "hooks", False)).startswith("run hooks: none")
