"""Stall detection: notice when the model is going round in circles.

Four patterns, each warned about once and then, if it goes on, stopping the turn:
the same call repeated, A-B-A-B cycles, the same unchanged file read again and
again, and many iterations with no write or command.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from mnemocode.core.types import ToolCall, ToolResult


@dataclass(frozen=True, slots=True)
class StallVerdict:
    kind: str
    message: str
    stop: bool


def _signature(call: ToolCall) -> str:
    args = json.dumps(call.arguments, sort_keys=True, default=str)
    return f"{call.name}:{args or call.raw_arguments}"


@dataclass(slots=True)
class StallDetector:
    repeat_limit: int = 3
    reread_limit: int = 3
    idle_limit: int = 15
    # How many more occurrences after the warning before the turn stops.
    grace: int = 2
    _history: list[str] = field(default_factory=list)
    _reads: dict[str, tuple[str, int]] = field(default_factory=dict)
    _idle: int = 0
    _warned: dict[str, int] = field(default_factory=dict)

    def observe(
        self, calls: list[ToolCall], results: list[ToolResult], read_only: set[str]
    ) -> StallVerdict | None:
        """Record one iteration's calls; return a verdict when a stall is seen."""
        step = "|".join(sorted(_signature(c) for c in calls))
        self._history.append(step)
        if any(c.name not in read_only for c in calls):
            self._idle = 0
            self._reads.clear()  # something may have changed on disk
        else:
            self._idle += 1
        for call, result in zip(calls, results, strict=True):
            if call.name == "file_read" and not result.is_error:
                key = json.dumps(call.arguments, sort_keys=True, default=str)
                digest = hashlib.sha256(result.text.encode()).hexdigest()
                previous, count = self._reads.get(key, ("", 0))
                self._reads[key] = (digest, count + 1 if previous == digest else 1)
        return self._check()

    def _check(self) -> StallVerdict | None:
        checks = [
            (
                "repeat",
                self._repeats(),
                self.repeat_limit,
                "you have made the same tool call {n} times in a row",
            ),
            (
                "cycle",
                self._cycle_length(),
                2,
                "you are alternating between the same calls in a cycle ({n} rounds)",
            ),
            (
                "reread",
                max((c for _, c in self._reads.values()), default=0),
                self.reread_limit,
                "you have read the same unchanged file {n} times",
            ),
            (
                "idle",
                self._idle,
                self.idle_limit,
                "{n} iterations in a row without writing a file or running a command",
            ),
        ]
        for kind, count, limit, text in checks:
            if count < limit:
                continue
            warned_at = self._warned.get(kind)
            if warned_at is None:
                self._warned[kind] = count
                return StallVerdict(
                    kind,
                    f"Stall warning: {text.format(n=count)}. Change approach: try a different "
                    "tool or arguments, make the change, or finish and explain what blocks you.",
                    stop=False,
                )
            if count >= warned_at + self.grace:
                return StallVerdict(
                    kind, f"Stopped: {text.format(n=count)}, even after a warning.", stop=True
                )
        return None

    def _repeats(self) -> int:
        if not self._history:
            return 0
        last, n = self._history[-1], 0
        for step in reversed(self._history):
            if step != last:
                break
            n += 1
        return n

    def _cycle_length(self) -> int:
        """Full rounds of an A-B (or A-B-C) cycle at the end of the history."""
        best = 0
        for period in (2, 3):
            h = self._history
            if len(h) < 2 * period or len(set(h[-period:])) < 2:
                continue
            rounds, i = 1, len(h) - period
            while i - period >= 0 and h[i - period : i] == h[-period:]:
                rounds += 1
                i -= period
            if rounds >= 2:
                best = max(best, rounds)
        return best
