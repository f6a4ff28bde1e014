"""Stall detection patterns, fed directly."""

from __future__ import annotations

from mnemocode.agent.stall import StallDetector, StallVerdict
from mnemocode.core.types import ToolCall, ToolResult

READ_ONLY = {"file_read", "grep"}


def step(d: StallDetector, name: str, result: str = "same", **args: object) -> StallVerdict | None:
    call = ToolCall(f"id{name}{args}", name, dict(args))
    return d.observe([call], [ToolResult.of_text(call, result)], READ_ONLY)


def test_ab_cycle_is_caught() -> None:
    d = StallDetector()
    assert step(d, "grep", pattern="a") is None
    assert step(d, "grep", pattern="b") is None
    assert step(d, "grep", pattern="a") is None
    verdict = step(d, "grep", pattern="b")
    assert verdict is not None and verdict.kind == "cycle" and not verdict.stop


def test_unchanged_file_read_three_times() -> None:
    d = StallDetector()
    for i in range(2):
        assert step(d, "file_read", "contents", path="a.py") is None
        step(d, "grep", pattern=f"x{i}")
    verdict = step(d, "file_read", "contents", path="a.py")
    assert verdict is not None and verdict.kind == "reread"


def test_changed_file_is_not_a_reread() -> None:
    d = StallDetector()
    for i in range(5):
        assert step(d, "file_read", f"version {i}", path="a.py") is None
        step(d, "grep", pattern=f"x{i}")


def test_a_write_resets_the_reread_count() -> None:
    d = StallDetector()
    step(d, "file_read", "c", path="a.py")
    step(d, "file_read", "c", path="a.py", offset=1)
    step(d, "file_edit", "ok", path="a.py")
    step(d, "file_read", "c", path="a.py")
    assert step(d, "file_read", "c", path="a.py", offset=1) is None


def test_many_iterations_without_a_write_warn_then_stop() -> None:
    d = StallDetector(idle_limit=4)
    verdicts = [step(d, "grep", pattern=f"p{i}") for i in range(6)]
    assert verdicts[:3] == [None, None, None]
    assert verdicts[3] is not None and verdicts[3].kind == "idle" and not verdicts[3].stop
    assert verdicts[5] is not None and verdicts[5].stop
