"""User tool files used by a scripted model through the guard: an ordinary tool asks
in ask mode, a read-only one does not (and is decided as ``file_read`` for its path);
broken files are reported as ``file:line`` and the session goes on; a tool that
raises is a tool error; memocode's format loads."""

from __future__ import annotations

import sys
from pathlib import Path

from mnemocode.llm.testing import text, tool_call
from mnemocode.safety.approvers import StaticApprover
from tests.extensions.skills.support import project, session, tool_texts, user_home

TOOLS = '''
from pathlib import Path

from mnemocode.core.protocols import ToolContext
from mnemocode.tools.base import tool


@tool()
async def stamp(ctx: ToolContext, label: str) -> str:
    """Write a stamp file in the work directory.

    Args:
        label: What the stamp says.
    """
    (ctx.cwd / "stamp.txt").write_text(label)
    return f"stamped {label}"


@tool(read_only=True)
def count_lines(ctx: ToolContext, path: str) -> str:
    """Count the lines of a file."""
    return str(len((ctx.cwd / path).read_text().splitlines()))


@tool()
async def explode() -> str:
    """Always fails."""
    raise RuntimeError("boom")
'''


def _user_tools(mnemo_home: Path, name: str, source: str) -> Path:
    folder = mnemo_home / "tools"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


async def test_a_user_tool_asks_and_a_read_only_one_does_not(
    tmp_path: Path, isolated_home: Path
) -> None:
    _user_tools(isolated_home, "mine.py", TOOLS)
    (project(tmp_path) / "three.txt").write_text("a\nb\nc\n")
    script = [
        tool_call("stamp", label="v1"),
        tool_call("count_lines", path="three.txt"),
        tool_call("explode"),
        text("done"),
        text("still here"),
    ]
    approver = StaticApprover(True)
    app, model = session(tmp_path, isolated_home, script, approver=approver)
    specs = {s.name: s for s in app.tool_specs()}
    assert specs["stamp"].parameters["properties"]["label"]["description"] == "What the stamp says."
    assert specs["count_lines"].read_only and not specs["stamp"].read_only
    await app.run_turn("stamp it", lambda _e: None)
    assert [r.tool for r in approver.asked] == ["stamp", "explode"]
    told = [tool_texts(model, i)[-1] for i in range(1, 4)]
    assert told[0] == "stamped v1"
    assert (project(tmp_path) / "stamp.txt").read_text() == "v1"
    assert told[1] == "3"
    assert told[2] == "explode failed: RuntimeError: boom"
    await app.run_turn("again", lambda _e: None)
    assert len(model.requests) == 5


async def test_a_read_only_tool_still_asks_for_a_secret_and_auto_refuses_the_others(
    tmp_path: Path, isolated_home: Path
) -> None:
    _user_tools(isolated_home, "mine.py", TOOLS)
    work = project(tmp_path)
    (work / ".env").write_text("API_KEY=sk-fake-123\n")
    (work / "one.txt").write_text("x\n")
    script = [
        tool_call("count_lines", path="one.txt"),
        tool_call("count_lines", path=".env"),
        tool_call("stamp", label="auto"),
        text("done"),
    ]
    app, model = session(tmp_path, isolated_home, script, mode="auto")
    await app.run_turn("go", lambda _e: None)
    told = [tool_texts(model, i)[-1] for i in range(1, 4)]
    assert told[0] == "1"
    assert told[1].startswith("Refused by the safety policy") and "secret" in told[1]
    assert told[2].startswith("Refused by the safety policy")
    assert "extension tool" in told[2]
    assert not (work / "stamp.txt").exists()


async def test_broken_files_are_reported_with_file_and_line_and_the_rest_loads(
    tmp_path: Path, isolated_home: Path
) -> None:
    syntax = _user_tools(isolated_home, "syntax.py", "x = 1\ndef broken(:\n")
    missing = _user_tools(isolated_home, "missing.py", "import os\nimport not_a_module_xyz\n")
    signature = _user_tools(
        isolated_home,
        "signature.py",
        "from mnemocode.tools.base import tool\n\n\nclass Thing:\n    pass\n\n\n"
        "@tool()\nasync def takes_thing(thing: Thing) -> str:\n    return ''\n",
    )
    _user_tools(isolated_home, "ok.py", TOOLS)
    app, model = session(tmp_path, isolated_home, [text("fine")])
    problems = [n for n in app.notices if n.startswith("custom tool not loaded")]
    assert any(f"{syntax}:2: SyntaxError" in p for p in problems), problems
    assert any(f"{missing}:2: ModuleNotFoundError" in p for p in problems), problems
    assert any(f"{signature}:8: PydanticSchemaGenerationError" in p for p in problems), problems
    assert len(problems) == 3
    assert {"stamp", "count_lines"} <= {s.name for s in app.tool_specs()}
    assert "takes_thing" not in {s.name for s in app.tool_specs()}
    await app.run_turn("hi", lambda _e: None)
    assert len(model.requests) == 1


MEMOCODE = """
from tools.registry import Tool, ToolSchema


def _shout(text: str) -> str:
    return text.upper() + "!"


SHOUT_TOOL = Tool(
    schema=ToolSchema(
        name="shout",
        description="Shout a text.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}},
                    "required": ["text"]},
    ),
    fn=_shout,
)
TOOLS = [Tool(schema=ToolSchema(name="fail", description="Fails.", parameters={}),
              fn=lambda: 1 / 0)]
"""


async def test_a_memocode_tool_file_loads_without_memocode(
    tmp_path: Path, isolated_home: Path
) -> None:
    folder = user_home(tmp_path) / ".mcode/tools"
    folder.mkdir(parents=True)
    (folder / "shout.py").write_text(MEMOCODE, encoding="utf-8")
    script = [tool_call("shout", text="hey"), tool_call("fail"), text("done")]
    app, model = session(tmp_path, isolated_home, script)
    specs = {s.name: s for s in app.tool_specs()}
    assert specs["shout"].parameters["required"] == ["text"]
    assert "tools.registry" not in sys.modules and "tools" not in sys.modules
    await app.run_turn("shout", lambda _e: None)
    assert tool_texts(model, 1)[-1] == "HEY!"
    assert tool_texts(model, 2)[-1] == "fail failed: ZeroDivisionError: division by zero"
