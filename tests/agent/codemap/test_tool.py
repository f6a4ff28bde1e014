"""The read-only ``code_map`` tool: through the real GuardedToolset (auto mode runs
it without a question), on a real git repository, with the real code map."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnemocode.agent.codemap.session import CACHE_FILE, SessionMap
from mnemocode.agent.codemap.tool import code_map_toolset
from mnemocode.app import build_app
from mnemocode.config.settings import CodeMapConfig, ModelConfig, SafetyConfig, Settings
from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolResult
from mnemocode.llm.testing import ScriptedModel
from mnemocode.safety.approvers import StaticApprover
from mnemocode.safety.setup import Safety, build_safety
from tests.agent.codemap.repo import make_repo


@dataclass
class Rig:
    session: SessionMap
    safety: Safety
    approver: StaticApprover
    ctx: ToolContext

    async def call(self, **arguments: object) -> ToolResult:
        call = ToolCall("c1", "code_map", dict(arguments))
        return await self.safety.guard.call(call, self.ctx)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    work = make_repo(tmp_path / "work")
    home = tmp_path / "home"
    state = home / ".mnemo" / "projects" / "p"
    session = SessionMap(work, cache_path=state / CACHE_FILE, tokens=1024, max_file_bytes=100_000)
    session.start()
    approver = StaticApprover(True, by="user")
    safety = build_safety(
        SafetyConfig(mode="auto"),
        inner=code_map_toolset(session),
        approver=approver,
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=state,
        env={},
    )
    yield Rig(session, safety, approver, ToolContext(cwd=work, sandbox=safety.sandbox))
    session.close()


def _first_file(text: str, names: list[str]) -> str:
    return min(names, key=lambda n: text.index(n) if n in text else len(text))


async def test_auto_mode_runs_it_as_a_read_only_tool(rig: Rig) -> None:
    [spec] = rig.safety.guard.specs()
    assert spec.name == "code_map" and spec.read_only
    result = await rig.call(query="circle area")
    assert not result.is_error, result.text
    assert rig.approver.asked == []
    [entry] = rig.safety.audit.query(tool="code_map")  # type: ignore[union-attr]
    assert entry.decision == "allow"


async def test_query_ranks_the_file_defining_what_it_names_first(rig: Rig) -> None:
    result = await rig.call(query="flush_pending_rows returns the wrong count in LedgerStore")
    assert not result.is_error, result.text
    files = ["pkg/ledger.py", "pkg/shapes.py", "pkg/report.py", "main.py"]
    assert _first_file(result.text, files) == "pkg/ledger.py"
    assert "flush_pending_rows" in result.text


async def test_path_focus_ranks_that_file_and_what_it_uses_up(rig: Rig) -> None:
    plain = await rig.call()
    focused = await rig.call(path="pkg/report.py")
    assert not focused.is_error, focused.text
    assert plain.text.index("pkg/ledger.py") < plain.text.index("pkg/report.py")
    assert focused.text.index("pkg/report.py") < focused.text.index("pkg/ledger.py")
    assert focused.text.index("pkg/shapes.py") < focused.text.index("pkg/ledger.py")


async def test_a_path_with_no_mapped_file_is_an_error(rig: Rig) -> None:
    result = await rig.call(path="docs")
    assert result.is_error and "no file of the code map" in result.text


async def test_a_path_outside_the_work_directory_is_refused_in_auto_mode(rig: Rig) -> None:
    result = await rig.call(path="/etc")
    assert result.is_error
    assert rig.approver.asked == []


async def test_symbol_gives_definition_and_references_as_file_line(rig: Rig) -> None:
    result = await rig.call(symbol="make_circle")
    assert not result.is_error, result.text
    lines = result.text.splitlines()
    assert lines[0].startswith("make_circle: 1 definition, ")
    assert any(line.startswith("pkg/shapes.py:9  def make_circle(") for line in lines)
    refs = lines[lines.index("references:") + 1 :]
    assert "pkg/report.py:5" in refs and "main.py:8" in refs


async def test_an_unknown_symbol_says_so(rig: Rig) -> None:
    result = await rig.call(symbol="no_such_name_anywhere")
    assert not result.is_error
    assert result.text == "no_such_name_anywhere: no definition or reference in the code map."


async def test_tokens_bound_the_map(rig: Rig) -> None:
    small = await rig.call(tokens=20)
    large = await rig.call(tokens=4000)
    assert not small.is_error and not large.is_error
    assert len(small.text) < len(large.text)
    assert "flush_pending_rows" in large.text


async def test_the_cache_is_written_where_the_session_said(rig: Rig) -> None:
    await rig.call(query="x")
    assert rig.session.cache_path is not None and rig.session.cache_path.is_file()


def _settings(**codemap: int) -> Settings:
    return Settings(
        models={"test": ModelConfig(model="scripted")},
        active_model="test",
        codemap=CodeMapConfig(**codemap),
    )


def test_the_app_offers_it_with_the_cache_in_the_project_data_dir(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "work")
    home = tmp_path / "home"
    app = build_app(
        _settings(), cwd=work, home=home, approver=StaticApprover(True), env={},
        model=ScriptedModel([]),
    )  # fmt: skip
    assert app.code_map is not None
    try:
        assert "code_map" in {s.name for s in app.tool_specs()}
        assert app.project is not None
        assert app.code_map.cache_path == app.project.data_dir(home) / "codemap.db"
        # Built behind start-up, on the map's own thread.
        assert any(t.name == "mnemo-codemap" for t in threading.enumerate())
    finally:
        app.code_map.close()


def test_tokens_zero_turns_the_map_and_the_tool_off(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "work")
    app = build_app(
        _settings(tokens=0), cwd=work, home=tmp_path / "home", approver=StaticApprover(True),
        env={}, model=ScriptedModel([]),
    )  # fmt: skip
    assert app.code_map is None
    assert "code_map" not in {s.name for s in app.tool_specs()}


def test_a_small_window_leaves_the_tool_out(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "work")
    settings = _settings()
    settings.models["test"] = ModelConfig(model="scripted", context_window=8192)
    app = build_app(
        settings, cwd=work, home=tmp_path / "home", approver=StaticApprover(True), env={},
        model=ScriptedModel([]),
    )  # fmt: skip
    assert app.code_map is not None
    app.code_map.close()
    assert "code_map" not in {s.name for s in app.tool_specs()}
    assert "code_map" in app.left_out_tools
