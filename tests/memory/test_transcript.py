"""render_transcript: compact, code left out, head and tail kept; split_for_compaction:
the recent turns kept whole, tool calls never parted from their results."""

from __future__ import annotations

import random

from mnemocode.core.types import Message, ToolCall, ToolResult
from mnemocode.memory.transcript import elide_code, render_transcript, split_for_compaction

PYTHON_BLOCK = "```python\nimport os\n\ndef walk_tree():\n    return os.listdir('.')\n```"


def tool_exchange(call_id: str, name: str, args: dict[str, object], output: str) -> list[Message]:
    call = ToolCall(call_id, name, dict(args))
    return [Message.assistant("", [call]), Message.tool(ToolResult.of_text(call, output))]


def test_roles_tool_calls_and_results_are_one_line_each() -> None:
    call = ToolCall("c1", "grep", {"pattern": "TODO", "path": "src"})
    failing = ToolCall("c2", "shell", {"command": "pytest -q"})
    messages = [
        Message.user("Find the TODOs"),
        Message.assistant("Looking.", [call, failing]),
        Message.tool(ToolResult.of_text(call, "src/a.py:3: TODO fix\nsrc/b.py:9: TODO test")),
        Message.tool(ToolResult.of_text(failing, "exit 1: 2 failed", is_error=True)),
        Message.assistant("Two TODOs; the tests fail."),
    ]
    assert render_transcript(messages).splitlines() == [
        "user: Find the TODOs",
        "assistant: Looking.",
        '→ grep({"pattern": "TODO", "path": "src"})',
        '→ shell({"command": "pytest -q"})',
        "← grep: src/a.py:3: TODO fix | src/b.py:9: TODO test (42 chars)",
        "← shell ERROR: exit 1: 2 failed (16 chars)",
        "assistant: Two TODOs; the tests fail.",
    ]


def test_long_tool_results_are_cut_and_sized() -> None:
    output = "\n".join(f"line {i} " + "x" * 100 for i in range(200))
    messages = [
        Message.user("read it"),
        *tool_exchange("c1", "file_read", {"path": "big.txt"}, output),
    ]
    line = render_transcript(messages).splitlines()[-1]
    assert line.startswith("← file_read: line 0 ")
    assert f"({len(output)} chars)" in line
    assert "line 199" not in line
    assert len(line) < 400


def test_long_code_blocks_are_replaced_by_a_note_and_short_ones_kept() -> None:
    text = f"Here it is:\n{PYTHON_BLOCK}\nand the command:\n```sh\nmake test\n```"
    rendered = render_transcript([Message.assistant(text)])
    assert "[code: 4 lines of python]" in rendered
    assert "walk_tree" not in rendered
    assert "make test" in rendered
    kept = render_transcript([Message.assistant(text)], keep_code=True)
    assert "def walk_tree():" in kept


def test_unclosed_and_unlabelled_fences_are_elided_too() -> None:
    assert elide_code("a\n```\n1\n2\n3\n4\n```\nb") == "a\n[code: 4 lines]\nb"
    assert elide_code("cut:\n~~~rust\nfn a() {}\nfn b() {}\nfn c() {}\nfn d() {}") == (
        "cut:\n[code: 4 lines of rust]"
    )


def test_file_contents_in_tool_arguments_are_left_out() -> None:
    source = "def handler(event):\n    validate(event)\n    store(event)\n    return 200\n"
    messages = tool_exchange("c1", "file_write", {"path": "app.py", "content": source}, "ok")
    rendered = render_transcript(messages)
    assert '"path": "app.py"' in rendered
    assert "validate(event)" not in rendered
    assert "<5 lines, " in rendered
    assert "validate(event)" in render_transcript(messages, keep_code=True)


def test_max_chars_keeps_head_and_tail_and_marks_the_cut() -> None:
    messages = [Message.user(f"question number {i}") for i in range(500)]
    full = render_transcript(messages)
    cut = render_transcript(messages, max_chars=2_000)
    assert len(full) > 2_000 >= len(cut)
    assert cut.startswith("user: question number 0\n")
    assert cut.endswith("user: question number 499")
    assert "question number 250" not in cut
    assert f"{len(full)} characters in all" in cut
    assert render_transcript(messages, max_chars=len(full)) == full


def conversation(turns: int) -> list[Message]:
    history: list[Message] = []
    for turn in range(turns):
        history.append(Message.user(f"turn {turn}"))
        history.extend(tool_exchange(f"c{turn}", "shell", {"command": "ls"}, "a.py"))
        history.append(Message.assistant(f"done {turn}"))
    return history


def test_split_starts_at_the_nth_last_user_turn() -> None:
    history = conversation(4)  # 4 messages per turn
    assert split_for_compaction(history, 2) == 8
    assert history[8].text == "turn 2"
    assert split_for_compaction(history, 1) == 12
    assert split_for_compaction(history, 0) == len(history)


def test_split_is_zero_when_nothing_is_old_enough() -> None:
    history = conversation(2)
    assert split_for_compaction(history, 2) == 0
    assert split_for_compaction(history, 5) == 0
    assert split_for_compaction([], 1) == 0


def test_a_user_message_between_a_call_and_its_result_does_not_split_them() -> None:
    call = ToolCall("c9", "shell", {"command": "sleep 5"})
    history = [
        Message.user("first"),
        Message.assistant("ok"),
        Message.assistant("", [call]),
        Message.user("also check the logs"),  # typed while the tool ran
        Message.tool(ToolResult.of_text(call, "done")),
        Message.assistant("done"),
    ]
    assert split_for_compaction(history, 1) == 2


def test_split_never_separates_tool_calls_from_results() -> None:
    rng = random.Random(7)
    for _ in range(300):
        history: list[Message] = []
        pending: list[ToolCall] = []
        for step in range(rng.randint(1, 30)):
            roll = rng.random()
            if roll < 0.3:
                history.append(Message.user(f"u{step}"))
            elif roll < 0.6:
                new = [ToolCall(f"c{step}-{n}", "shell", {}) for n in range(rng.randint(1, 3))]
                history.append(Message.assistant("", new))
                pending.extend(new)
            elif pending:
                call = pending.pop(rng.randrange(len(pending)))
                history.append(Message.tool(ToolResult.of_text(call, "out")))
            else:
                history.append(Message.assistant("text"))
        for keep in range(5):
            split = split_for_compaction(history, keep)
            assert 0 <= split <= len(history)
            before = {c.id for m in history[:split] for c in m.tool_calls}
            after = {m.tool_call_id for m in history[split:] if m.role == "tool"}
            assert not before & after, (keep, split)
