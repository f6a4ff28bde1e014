"""Harness overhead: a 200-turn scripted session through the fake OpenAI-compatible
server, over real HTTP with the real `openai` SDK adapter and real tools.

Per turn we report the time that is ours — wall time of the turn minus the time
the server spent answering (its handler measures that) — plus bytes sent per turn
and the share of each request that is a byte-identical prefix of the previous
request (what a provider's prompt cache can reuse)."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, percentile
from mnemocode.app import build_app
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.events import AgentEvent, ModelCallFinished
from mnemocode.llm.testing import FakeOpenAIServer, Turn, text, tool_call
from mnemocode.llm.testing.server import RecordedRequest
from mnemocode.safety.approvers import StaticApprover

TURNS = 200


def _script(request: RecordedRequest) -> Turn:
    messages = request.messages
    if messages and messages[-1]["role"] == "user":
        return tool_call("file_read", path="notes.txt")
    return text("Read it; nothing to change. " * 3)


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on slices is much faster than a byte loop
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


async def _session(server: FakeOpenAIServer, work: Path, home: Path) -> dict[str, Any]:
    settings = Settings(
        models={
            "fake": ModelConfig(provider="openai", model="fake-model", base_url=server.base_url)
        },
        active_model="fake",
    )
    app = build_app(settings, cwd=work, home=home, approver=StaticApprover(True), env={})
    overhead, loop_only = [], []
    for i in range(TURNS):
        before = len(server.chat_requests)
        model_time = 0.0

        def on_event(event: AgentEvent) -> None:
            nonlocal model_time
            if isinstance(event, ModelCallFinished):
                model_time += event.duration_s

        start = time.perf_counter()
        finished = await app.agent.run_turn(f"Turn {i}: check notes.txt", on_event)
        wall = time.perf_counter() - start
        assert finished.stop_reason == "end_turn", finished
        served = server.chat_requests[before:]
        overhead.append(wall - sum(r.server_seconds for r in served))
        loop_only.append(wall - model_time)
    return {"overhead": overhead, "loop_only": loop_only}


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        work, home = Path(tmp) / "work", Path(tmp) / "home"
        work.mkdir()
        (work / "notes.txt").write_text("".join(f"note {i}: keep it simple\n" for i in range(40)))
        with FakeOpenAIServer(_script) as server:
            result = asyncio.run(_session(server, work, home))
            requests = server.chat_requests
    per_turn_bytes: list[int] = []
    shares: list[float] = []
    for i in range(0, len(requests), 2):
        per_turn_bytes.append(sum(len(r.raw) for r in requests[i : i + 2]))
    for prev, cur in itertools.pairwise(requests):
        shares.append(_common_prefix(prev.raw, cur.raw) / len(cur.raw))
    ms = [x * 1000 for x in result["overhead"]]
    loop_ms = [x * 1000 for x in result["loop_only"]]
    lines = [
        "## Harness overhead",
        "",
        f"{TURNS} turns, each: user prompt → model calls `file_read` → model answers "
        f"({len(requests)} HTTP requests to the fake server, streamed SSE, real `openai` SDK).",
        "Target: p50 under 5 ms.",
        "",
        "| measure | p50 | p95 | max |",
        "|---|---|---|---|",
        f"| our time per turn (wall − server time), ms | {median(ms):.2f} | "
        f"{percentile(ms, 95):.2f} | {max(ms):.2f} |",
        f"| of which outside the model call (loop, tools, context), ms | {median(loop_ms):.2f} | "
        f"{percentile(loop_ms, 95):.2f} | {max(loop_ms):.2f} |",
        f"| bytes sent per turn | {median(per_turn_bytes):,.0f} | "
        f"{percentile(per_turn_bytes, 95):,.0f} | {max(per_turn_bytes):,} |",
        f"| request that is a byte-identical prefix of the previous one | {median(shares):.1%} | "
        f"{percentile(shares, 5):.1%} (p5) | min {min(shares):.1%} |",
        "",
        "Our time includes the `openai` SDK and HTTP client (request building, SSE parsing), "
        "which the agent cannot avoid; the server's own handling time is excluded.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
