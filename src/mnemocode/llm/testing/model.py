"""``ScriptedModel``: a ``ChatModel`` that replays turns in-process."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

from mnemocode.core.errors import ModelConnectionError
from mnemocode.core.types import ModelRequest, StreamEvent, Usage
from mnemocode.llm.base import StreamAssembler
from mnemocode.llm.errors import cut_off_error
from mnemocode.llm.testing.script import Script, Turn, TurnSource, split


def rough_usage(request_chars: int, turn: Turn) -> Usage:
    """A deterministic stand-in for token counts (about four characters a token)."""
    out = len(turn.text) + len(turn.reasoning)
    out += sum(len(c.name) + len(c.arguments_json()) for c in turn.tool_calls)
    return Usage(input_tokens=request_chars // 4 + 1, output_tokens=out // 4 + 1)


def _request_chars(request: ModelRequest) -> int:
    total = sum(len(block.text) for block in request.system)
    for message in request.messages:
        total += len(message.text) + sum(
            len(c.raw_arguments or str(c.arguments)) for c in message.tool_calls
        )
    return total


class ScriptedModel:
    """Replays a script of turns (a list, or a function of the ``ModelRequest``).

    Every request is recorded in ``requests`` (lists copied, so later changes by the
    caller do not rewrite history). Text streams in ``chunks`` pieces, tool-call
    arguments too. Ids are ``call_1``, ``call_2``… across the whole script. Running
    out of turns raises ``ScriptExhaustedError`` (an ``AssertionError``).
    """

    def __init__(
        self,
        script: Script,
        *,
        name: str = "scripted",
        chunks: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._name = name
        self.model_id = name
        self.requests: list[ModelRequest] = []
        self._turns = TurnSource(script, f"ScriptedModel {name!r}")
        self._chunks = chunks
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._name

    @property
    def remaining(self) -> int | None:
        """Turns left in a list script; None for a function script."""
        return self._turns.remaining

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(
            dataclasses.replace(
                request,
                messages=list(request.messages),
                system=list(request.system),
                tools=list(request.tools),
            )
        )
        last = request.messages[-1].text[:80] if request.messages else ""
        turn = self._turns.next(request, f"; last message: {last!r}")
        if turn.delay:
            await self._sleep(turn.delay)
        failure = turn.model_error(self._name)
        if failure is not None and turn.drop_after is None:
            raise failure
        failure = failure or ModelConnectionError("stream dropped (scripted)", model=self._name)

        assembler = StreamAssembler()
        assembler.model = self._name
        if turn.cut_after is not None:
            for event in self._events(turn, assembler)[: turn.cut_after]:
                yield event
            raise cut_off_error(self._name, "the scripted model", "a finish reason")
        budget = turn.drop_after
        for event in self._events(turn, assembler):
            if budget is not None:
                if budget == 0:
                    raise failure
                budget -= 1
            yield event
        if budget == 0:
            raise failure
        assembler.set_usage(turn.usage or rough_usage(_request_chars(request), turn))
        yield assembler.done(turn.finish_reason)

    def _events(self, turn: Turn, assembler: StreamAssembler) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for piece in split(turn.reasoning, self._chunks):
            events.extend(e for e in [assembler.reasoning(piece)] if e)
        for piece in split(turn.text, self._chunks):
            events.extend(e for e in [assembler.text(piece)] if e)
        for index, scripted in enumerate(turn.tool_calls):
            call_id = self._turns.call_id(scripted)
            events.append(assembler.tool_call(index, id=call_id, name=scripted.name))
            for piece in split(scripted.arguments_json(), self._chunks):
                events.append(assembler.tool_call(index, arguments=piece))
        return events
