"""The ``agent`` tool of ``mnemo mcp serve``: a whole mnemo task, its model being the
fake OpenAI-compatible server (real SDK, real HTTP), its tool calls behind the guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import write_global_config
from tests.extensions.mcp.serve_support import Answering, Place, make_place, stdio_client, text_of


def _configure(place: Place, url: str) -> None:
    write_global_config(
        place.mnemo_home,
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n',
    )


@pytest.fixture
def place(tmp_path: Path, isolated_home: Path) -> Place:
    place = make_place(tmp_path, isolated_home)
    (place.work / "sub").mkdir()
    return place


async def test_agent_returns_the_scripted_answer_and_usage(place: Place) -> None:
    with FakeOpenAIServer([text("The build uses make.")]) as fake:
        _configure(place, fake.base_url)
        async with stdio_client(place) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("agent", {"prompt": "how is it built?", "cwd": "sub"})
        asked = fake.chat_requests[0].messages
    assert "agent" in names
    assert not result.is_error, text_of(result)
    body = json.loads(text_of(result))
    assert body["result"] == "The build uses make."
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert "how is it built?" in str(asked[-1]["content"])
    assert str(place.work / "sub") in json.dumps(asked)  # it worked in sub/


async def test_agent_cannot_be_pointed_outside_the_work_directory(place: Place) -> None:
    with FakeOpenAIServer([text("never asked")]) as fake:
        _configure(place, fake.base_url)
        async with stdio_client(place) as client:
            up = await client.call_tool("agent", {"prompt": "hi", "cwd": ".."})
            home = await client.call_tool("agent", {"prompt": "hi", "cwd": str(place.home)})
        seen = len(fake.chat_requests)
    assert up.is_error and "outside the served work directory" in text_of(up)
    assert home.is_error and "outside the served work directory" in text_of(home)
    assert seen == 0


async def test_agent_writes_are_refused_without_a_way_to_ask(place: Place) -> None:
    script = [tool_call("file_write", path="w.txt", content="x"), text("I was not allowed.")]
    with FakeOpenAIServer(script) as fake:
        _configure(place, fake.base_url)
        async with stdio_client(place) as client:
            result = await client.call_tool("agent", {"prompt": "write w.txt"})
        second = fake.chat_requests[1].messages
    assert json.loads(text_of(result))["result"] == "I was not allowed."
    assert not (place.work / "w.txt").exists()
    tool_message = next(m for m in second if m["role"] == "tool")
    assert "cannot be asked" in str(tool_message["content"])


async def test_agent_asks_the_client_mid_task_on_2025_11_25(place: Place) -> None:
    script = [tool_call("file_write", path="w.txt", content="x\n"), text("Written.")]
    yes = Answering(approve=True)
    with FakeOpenAIServer(script) as fake:
        _configure(place, fake.base_url)
        async with stdio_client(place, elicitation_callback=yes, mode="legacy") as client:
            result = await client.call_tool("agent", {"prompt": "write w.txt"})
    assert json.loads(text_of(result))["result"] == "Written."
    assert (place.work / "w.txt").read_text() == "x\n"
    assert len(yes.questions) == 1 and "write w.txt" in yes.questions[0]


async def test_agent_on_2026_07_28_refuses_what_it_cannot_ask_mid_task(place: Place) -> None:
    script = [tool_call("file_write", path="w.txt", content="x\n"), text("Refused, then.")]
    yes = Answering(approve=True)
    with FakeOpenAIServer(script) as fake:
        _configure(place, fake.base_url)
        async with stdio_client(place, elicitation_callback=yes) as client:
            result = await client.call_tool("agent", {"prompt": "write w.txt"})
        second = fake.chat_requests[1].messages
    assert json.loads(text_of(result))["result"] == "Refused, then."
    assert not (place.work / "w.txt").exists() and yes.questions == []
    tool_message = next(m for m in second if m["role"] == "tool")
    assert "asks only before a call runs" in str(tool_message["content"])
