"""The router's and the solver's events as terminal lines: the strategy picked
for a turn and why, an escalation, and each solver step as it ends."""

from __future__ import annotations

from rich.text import Text

from mnemocode.core.events import Escalated, SolverStep, StrategyChosen

LadderEvent = StrategyChosen | Escalated | SolverStep

_STEP_MARKS = {"finished": ("✓", "dim"), "failed": ("✗", "yellow"), "skipped": ("–", "dim")}


def running_label(event: LadderEvent) -> str | None:
    """The spinner's label while a solver step runs (None: not a running step)."""
    if isinstance(event, SolverStep) and event.status == "started":
        return f"{event.step}…"
    return None


def ladder_line(event: LadderEvent) -> Text | None:
    """The line printed for good (None for a step that just started)."""
    if isinstance(event, StrategyChosen):
        how = "forced" if event.forced else "auto"
        return Text(f"→ {event.strategy} ({how}: {event.reason})", style="dim")
    if isinstance(event, Escalated):
        line = f"↑ {event.from_strategy} failed: {event.reason} → {event.to_strategy}"
        if event.rolled_back:
            line += " (its edits were rolled back)"
        return Text(line, style="yellow")
    if event.status == "started":
        return None
    mark, style = _STEP_MARKS[event.status]
    text = Text(f"  {mark} {event.step}", style=style)
    if event.detail:
        text.append(f" · {' '.join(event.detail.split())[:160]}", style=style)
    return text
