"""/map in the real REPL, and the small map in the first request of a large
repository (the real openai SDK against the fake server: the request body)."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.settings import CodeMapConfig
from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.agent.codemap.repo import make_repo, many_files
from tests.cli.repl_harness import repl_session, settings
from tests.conftest import run_mnemo, write_global_config


async def test_map_shows_the_ranked_map_focused_on_the_query(tmp_path: Path) -> None:
    make_repo(tmp_path / "work")
    async with repl_session(tmp_path, []) as s:
        s.send("/map flush_pending_rows in LedgerStore\n")
        await s.wait_for("· budget")
    out = s.output
    assert "def flush_pending_rows(self, limit: int = 100) -> int" in out
    assert out.index("pkg/ledger.py") < out.index("pkg/shapes.py")
    assert "6 files (1 by name only) · focused on 'flush_pending_rows in LedgerStore'" in out


async def test_map_says_when_the_map_is_off(tmp_path: Path) -> None:
    config = settings()
    config.codemap = CodeMapConfig(tokens=0)
    async with repl_session(tmp_path, [], config=config) as s:
        s.send("/map\n")
        await s.wait_for("the code map is off ([codemap] tokens = 0)")


def _config(url: str, min_files: int) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\n[codemap]\nfirst_request_min_files = {min_files}\n'
    )


def _system(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m["content"]) for m in messages if m["role"] == "system")


def test_a_large_repository_gets_a_map_in_the_first_request(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = make_repo(tmp_path / "repo", many_files(12))
    script = [tool_call("file_read", path="pkg/ledger.py"), text("It returns limit.")]
    with FakeOpenAIServer(script) as server:
        write_global_config(isolated_home, _config(server.base_url, min_files=10))
        proc = run_mnemo(
            ["-p", "why does flush_pending_rows return 100?"], cwd=repo, home=isolated_home
        )
        first, second = (r.messages for r in server.chat_requests)
    assert proc.returncode == 0, proc.stderr
    system = _system(first)
    assert "Code map:" in system and "(code_map shows more" in system
    assert "pkg/ledger.py" in system and "flush_pending_rows" in system
    assert _system(second) == system  # the same prefix every request: caches hit


def test_a_repository_small_enough_to_list_gets_no_map(tmp_path: Path, isolated_home: Path) -> None:
    repo = make_repo(tmp_path / "repo", many_files(12))
    with FakeOpenAIServer([text("ok")]) as server:
        write_global_config(isolated_home, _config(server.base_url, min_files=40))
        proc = run_mnemo(["-p", "why does flush_pending_rows fail?"], cwd=repo, home=isolated_home)
        [request] = server.chat_requests
    assert proc.returncode == 0, proc.stderr
    assert "Code map:" not in _system(request.messages)
    assert "code_map" in {t["function"]["name"] for t in request.body["tools"]}


def test_the_first_request_does_not_wait_for_a_slow_first_build(
    tmp_path: Path, isolated_home: Path
) -> None:
    repo = make_repo(tmp_path / "repo", many_files(12))
    with FakeOpenAIServer([text("ok")]) as server:
        config = _config(server.base_url, min_files=10) + "first_request_wait_s = 0\n"
        write_global_config(isolated_home, config)
        proc = run_mnemo(["-p", "why does flush_pending_rows fail?"], cwd=repo, home=isolated_home)
        [request] = server.chat_requests
    assert proc.returncode == 0, proc.stderr
    assert "Code map:" not in _system(request.messages)
