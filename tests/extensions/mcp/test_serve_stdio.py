"""``mnemo mcp serve`` over stdio, driven by the SDK's own ``mcp.Client`` spawning the
real command: what it lists, what it runs, and what a hostile client cannot do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mnemo
from tests.extensions.mcp.serve_support import (
    SECRET_MARKER,
    Answering,
    Place,
    make_place,
    stdio_client,
    text_of,
)

SERVED = {
    "file_read", "file_write", "file_edit", "glob", "grep", "shell_exec", "memory_search",
}  # fmt: skip


@pytest.fixture
def place(tmp_path: Path, isolated_home: Path) -> Place:
    return make_place(tmp_path, isolated_home)


async def test_lists_the_tools_with_schemas_and_reads_a_file(place: Place) -> None:
    async with stdio_client(place) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("file_read", {"path": "notes.txt"})
    assert set(listed) >= SERVED
    assert "web_fetch" not in listed and "agent" not in listed  # no model: no agent
    assert listed["file_read"].input_schema["required"] == ["path"]
    assert listed["file_read"].annotations is not None
    assert listed["file_read"].annotations.read_only_hint is True
    assert listed["shell_exec"].annotations is not None
    assert listed["shell_exec"].annotations.read_only_hint is False
    assert not result.is_error and "the build uses make" in text_of(result)


async def test_default_mode_refuses_a_hostile_client_and_says_why(place: Place) -> None:
    outside = place.work.parent / "outside.txt"
    async with stdio_client(place) as client:
        escape = await client.call_tool("file_write", {"path": str(outside), "content": "x"})
        climb = await client.call_tool("file_write", {"path": "../climb.txt", "content": "x"})
        key = await client.call_tool("file_read", {"path": str(place.home / ".ssh/id_rsa")})
        command = await client.call_tool("shell_exec", {"command": "touch pwned"})
        inside = await client.call_tool("file_write", {"path": "new.txt", "content": "x"})
    for refused in (escape, climb, key, command, inside):
        assert refused.is_error
        assert "cannot be asked" in text_of(refused), text_of(refused)
    assert "outside the work directory" in text_of(escape)
    assert SECRET_MARKER not in text_of(key)
    assert not outside.exists() and not (place.work.parent / "climb.txt").exists()
    assert not (place.work / "pwned").exists() and not (place.work / "new.txt").exists()
    audit = [json.loads(line) for line in place.audit().splitlines()]
    denied = [e for e in audit if e["outcome"] == "denied"]
    assert {e["tool"] for e in denied} == {"file_write", "file_read", "shell_exec"}
    assert len(denied) == 5


async def test_a_tool_not_served_is_refused(place: Place) -> None:
    async with stdio_client(place) as client:
        result = await client.call_tool("web_fetch", {"url": "http://169.254.169.254/"})
    assert result.is_error and "Unknown tool 'web_fetch'" in text_of(result)


@pytest.mark.parametrize("protocol", ["auto", "legacy"])  # 2026-07-28, and 2025-11-25
async def test_elicitation_no_refuses_and_yes_writes(place: Place, protocol: str) -> None:
    no, yes = Answering(approve=False), Answering(approve=True)
    async with stdio_client(place, elicitation_callback=no, mode=protocol) as client:
        refused = await client.call_tool("file_write", {"path": "a.txt", "content": "no\n"})
        command = await client.call_tool("shell_exec", {"command": "touch pwned"})
    async with stdio_client(place, elicitation_callback=yes, mode=protocol) as client:
        done = await client.call_tool("file_write", {"path": "b.txt", "content": "yes\n"})
        read = await client.call_tool("file_read", {"path": "notes.txt"})
    assert refused.is_error and "declined" in text_of(refused)
    assert command.is_error and not (place.work / "pwned").exists()
    assert not (place.work / "a.txt").exists()
    assert not done.is_error, text_of(done)
    assert (place.work / "b.txt").read_text() == "yes\n"
    assert not read.is_error
    assert len(no.questions) == 2 and "write a.txt" in no.questions[0]
    assert "run: touch pwned" in no.questions[1]
    assert yes.questions == [yes.questions[0]] and "+yes" in yes.questions[0]  # the diff


async def test_a_cancelled_question_refuses(place: Place) -> None:
    cancel = Answering(approve=True, action="cancel")
    async with stdio_client(place, elicitation_callback=cancel) as client:
        result = await client.call_tool("file_write", {"path": "c.txt", "content": "x"})
    assert result.is_error and "cancelled" in text_of(result)
    assert not (place.work / "c.txt").exists()


async def test_auto_mode_writes_inside_never_outside(place: Place) -> None:
    outside = place.work.parent / "outside.txt"
    asked = Answering(approve=True)
    async with stdio_client(place, "--mode", "auto", elicitation_callback=asked) as client:
        inside = await client.call_tool("file_write", {"path": "in.txt", "content": "ok\n"})
        escape = await client.call_tool("file_write", {"path": str(outside), "content": "x"})
    assert not inside.is_error and (place.work / "in.txt").read_text() == "ok\n"
    assert escape.is_error and "Refused by the safety policy" in text_of(escape)
    assert not outside.exists() and asked.questions == []  # auto never asks
    audit = [json.loads(line) for line in place.audit().splitlines()]
    write = next(e for e in audit if e["tool"] == "file_write" and e["outcome"] == "approved")
    assert write["checkpoint"] and write["turn"] >= 1  # undo knows what the call did


def test_bypass_needs_its_flag(place: Place) -> None:
    proc = run_mnemo(["mcp", "serve", "--mode", "bypass"], cwd=place.work, home=place.mnemo_home)
    assert proc.returncode == 2 and "--allow-bypass" in proc.stderr
    assert proc.stdout == ""


async def test_an_answer_cannot_be_moved_to_another_call_or_forged(place: Place) -> None:
    """2026-07-28: the question goes back as InputRequiredResult; a client replaying the
    "yes" (and the sealed state) for other arguments, or inventing a state, gets nothing."""
    import mcp_types as types
    from mcp import MCPError

    yes = types.ElicitResult(action="accept", content={"approve": True})
    async with stdio_client(place, elicitation_callback=Answering(approve=False)) as client:
        first = await client.session.call_tool(
            "file_write", {"path": "a.txt", "content": "x"}, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult) and first.input_requests
        key = next(iter(first.input_requests))
        with pytest.raises(MCPError, match="requestState"):
            await client.session.call_tool(
                "file_write",
                {"path": "evil.txt", "content": "x"},
                input_responses={key: yes},
                request_state=first.request_state,
            )
        with pytest.raises(MCPError, match="requestState"):
            await client.session.call_tool(
                "file_write",
                {"path": "a.txt", "content": "x"},
                input_responses={key: yes},
                request_state=key,  # the plain text, not the server's sealed token
            )
        unasked = await client.session.call_tool(
            "file_write",
            {"path": "a.txt", "content": "x"},
            input_responses={key: yes},
            allow_input_required=True,
        )
        replayed = await client.session.call_tool(
            "file_write",
            {"path": "a.txt", "content": "x"},
            input_responses={key: yes},
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(unasked, types.InputRequiredResult)  # no state: asked again
    assert isinstance(replayed, types.CallToolResult) and not replayed.is_error
    assert (place.work / "a.txt").read_text() == "x"
    assert not (place.work / "evil.txt").exists()
