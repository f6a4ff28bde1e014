"""/tools in the real REPL (pipe input, scripted model) shows where a custom tool
comes from, and a read-only one as read-only."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import text
from tests.cli.repl_harness import repl_session

TOOL = '''from mnemocode.tools.base import tool


@tool(read_only=True)
async def weather(city: str) -> str:
    """Tell the weather of a city."""
    return "sunny"
'''


async def test_tools_shows_a_custom_tool_s_source(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "tools"
    folder.mkdir(parents=True)
    (folder / "weather.py").write_text(TOOL)
    async with repl_session(tmp_path, [text("unused")]) as s:
        s.send("/tools\n")
        await s.wait_for("(user tool, weather.py:4)")
        line = next(x for x in s.output.splitlines() if x.startswith("weather"))
        assert "read-only" in line and "Tell the weather of a city." in line
