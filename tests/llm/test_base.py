"""StreamAssembler and complete()."""

from __future__ import annotations

import pytest

from mnemocode.core.errors import ModelConnectionError
from mnemocode.core.types import ModelRequest, TextDelta, Usage
from mnemocode.llm.base import StreamAssembler, complete, normalize_finish_reason, parse_arguments
from tests.llm.conftest import ask


def test_tool_call_fragments_are_assembled_by_index() -> None:
    asm = StreamAssembler()
    asm.tool_call(0, id="call_a", name="file_read", arguments='{"pa')
    asm.tool_call(1, id="call_b", name="grep", arguments="")
    asm.tool_call(0, arguments='th": "x.py"}')
    asm.tool_call(1, arguments='{"pattern": "TODO"}')
    calls = asm.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "file_read", {"path": "x.py"}),
        ("call_b", "grep", {"pattern": "TODO"}),
    ]


def test_repeated_names_are_taken_once_and_deltas_carry_them_once() -> None:
    asm = StreamAssembler()
    first = asm.tool_call(0, id="c1", name="shell_exec", arguments='{"command":')
    again = asm.tool_call(0, id="c1", name="shell_exec", arguments=' "ls"}')
    assert (first.id, first.name) == ("c1", "shell_exec")
    assert (again.id, again.name) == (None, None)
    (call,) = asm.tool_calls()
    assert call.name == "shell_exec" and call.arguments == {"command": "ls"}


def test_invalid_json_keeps_raw_arguments() -> None:
    asm = StreamAssembler()
    asm.tool_call(0, id="c1", name="x", arguments='{"a": 1')
    (call,) = asm.tool_calls()
    assert call.arguments == {} and call.raw_arguments == '{"a": 1'


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", {}),
        ("  ", {}),
        ('{"a": 1}', {"a": 1}),
        ('"{\\"a\\": 1}"', {"a": 1}),
        ("[1]", None),
        ("nope", None),
    ],
)
def test_parse_arguments(raw: str, parsed: dict[str, int] | None) -> None:
    assert parse_arguments(raw) == parsed


def test_missing_index_groups_by_id_and_missing_ids_are_generated() -> None:
    asm = StreamAssembler()
    asm.tool_call(None, id="a", name="one", arguments="{}")
    asm.tool_call(None, id="b", name="two", arguments="{")
    asm.tool_call(None, arguments="}")  # continues the last call
    asm.tool_call(5, name="three")
    calls = asm.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "one", {}),
        ("b", "two", {}),
        ("call_3", "three", {}),
    ]


def test_finish_builds_the_assistant_message() -> None:
    asm = StreamAssembler()
    asm.reasoning("hmm")
    assert asm.text("") is None
    assert asm.text("Hi") == TextDelta("Hi")
    asm.set_usage(Usage(10, 2))
    asm.provider_fields["k"] = "v"
    response = asm.finish("end_turn")
    assert response.message.role == "assistant" and response.message.text == "Hi"
    assert response.message.reasoning == "hmm" and response.message.provider_fields == {"k": "v"}
    assert response.finish_reason == "stop" and response.usage == Usage(10, 2)


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [
        (None, False, "stop"),
        ("end_turn", False, "stop"),
        ("max_tokens", False, "length"),
        ("stop", True, "tool_calls"),
        ("content_filter", False, "content_filter"),
    ],
)
def test_finish_reasons_are_normalised(reason: str | None, calls: bool, expected: str) -> None:
    assert normalize_finish_reason(reason, has_tool_calls=calls) == expected


class _NoDone:
    name = "broken"

    async def stream(self, request: ModelRequest) -> object:
        yield TextDelta("x")


async def test_complete_without_response_done_is_an_error() -> None:
    with pytest.raises(ModelConnectionError, match="without a final response"):
        await complete(_NoDone(), ask())  # type: ignore[arg-type]
