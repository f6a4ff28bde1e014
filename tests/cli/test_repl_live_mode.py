"""What shows the safety mode reads the live policy, not the configured one."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.formatted_text import fragment_list_to_text, to_formatted_text

from tests.cli.repl_harness import Session, repl_session


def toolbar(s: Session) -> str:
    bar = s.repl.session.bottom_toolbar
    assert callable(bar)
    return fragment_list_to_text(to_formatted_text(bar()))


async def test_status_line_and_status_follow_safety_off_and_auto_on(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        assert "mode ask" in toolbar(s)
        s.send("/safety off\n")
        await s.wait_for("Type yes")
        s.send("yes\n")
        await s.wait_for("safety checks are OFF")
        assert "mode bypass" in toolbar(s)
        s.send("/status\n")
        await s.wait_for("instructions")
        status = s.output.split("safety checks are OFF")[1].splitlines()
        assert next(line for line in status if line.startswith("mode ")).split() == [
            "mode",
            "bypass",
        ]
        s.send("/auto on\n")
        await s.wait_for("mode: auto")
        assert "mode auto" in toolbar(s)
        s.send("/tools\n")
        await s.wait_for("mode auto:")


async def test_tools_says_what_runs_without_asking_in_the_live_mode(tmp_path: Path) -> None:
    async with repl_session(tmp_path, []) as s:
        s.send("/tools\n")
        await s.wait_for("mode ask: read-only tools run without asking; the others ask")
        s.app.set_mode("bypass")
        s.send("/tools\n")
        await s.wait_for("mode bypass: everything runs without asking")
