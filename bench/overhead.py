"""Harness overhead: a 200-turn scripted session through the fake OpenAI-compatible
server, over real HTTP with the real `openai` SDK adapter and real tools.

Per turn we report the time that is ours — wall time of the turn minus the time
the server spent answering (its handler measures that) — plus bytes sent per turn
and the share of each request that is a byte-identical prefix of the previous
request (what a provider's prompt cache can reuse)."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import median, percentile
from mnemocode.app import build_app
from mnemocode.config.settings import ModelConfig, Settings
from mnemocode.core.events import AgentEvent, ModelCallFinished
from mnemocode.safety.approvers import StaticApprover

TURNS = 200


def _script() -> list[dict[str, Any]]:
    turn: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "file_read", "arguments": {"path": "notes.txt"}}]},
        {"text": "Read it; nothing to change. " * 3},
    ]
    return turn * TURNS


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


@contextmanager
def _server(tmp: Path) -> Iterator[str]:
    """The fake server in its own process, as a real endpoint would be: the
    client's numbers are then not mixed with the server's GIL time."""
    script = tmp / "script.json"
    script.write_text(json.dumps(_script()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnemocode.llm.testing", "serve", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _recorded(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_fake/requests") as response:
        data: list[dict[str, Any]] = json.loads(response.read())
    return [r for r in data if r["method"] == "POST"]


async def _session(url: str, work: Path, home: Path) -> dict[str, list[float]]:
    settings = Settings(
        models={"fake": ModelConfig(provider="openai", model="fake-model", base_url=url)},
        active_model="fake",
    )
    app = build_app(settings, cwd=work, home=home, approver=StaticApprover(True), env={})
    walls, model_times = [], []
    for i in range(TURNS):
        model_time = 0.0

        def on_event(event: AgentEvent) -> None:
            nonlocal model_time
            if isinstance(event, ModelCallFinished):
                model_time += event.duration_s

        start = time.perf_counter()
        finished = await app.agent.run_turn(f"Turn {i}: check notes.txt", on_event)
        walls.append(time.perf_counter() - start)
        model_times.append(model_time)
        assert finished.stop_reason == "end_turn", finished
    return {"wall": walls, "model": model_times}


def _replay(tmp: Path, bodies: list[bytes]) -> list[float]:
    """The HTTP floor: the same request bodies sent with plain async httpx (the
    transport an asyncio agent uses), each stream read to the end, against a fresh
    server — no SDK, no agent code."""
    import httpx

    async def send_all(url: str) -> list[float]:
        times = []
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as client:
            for body in bodies:
                start = time.perf_counter()
                async with client.stream(
                    "POST", f"{url}/chat/completions", content=body, headers=headers
                ) as response:
                    async for _ in response.aiter_bytes():
                        pass
                times.append(time.perf_counter() - start)
        return times

    with _server(tmp) as url:
        times = asyncio.run(send_all(url))
        served = [r["server_seconds"] for r in _recorded(url)]
    return [t - s for t, s in zip(times, served, strict=True)]


def _replay_sdk(tmp: Path, bodies: list[bytes], *, typed: bool) -> list[float]:
    """The same request bodies sent through the official `openai` SDK alone, each
    stream read to the end. ``typed``: the SDK's ``chat.completions.create`` (it
    re-validates every message of the history per call); otherwise the client's
    ``post`` with the JSON body and SSE decoding, as our adapter sends — the SDK's
    own cost under ours (request building, JSON encoding, per-chunk decoding)."""
    from openai import AsyncOpenAI, AsyncStream

    async def send_all(url: str) -> list[float]:
        times = []
        client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
        for body in bodies:
            params = json.loads(body)
            start = time.perf_counter()
            if typed:
                stream: Any = await client.chat.completions.create(**params)
            else:
                stream = await client.post(
                    "/chat/completions",
                    body=params,
                    cast_to=object,
                    stream=True,
                    stream_cls=AsyncStream[object],
                )
            async for _ in stream:
                pass
            times.append(time.perf_counter() - start)
        await client.close()
        return times

    with _server(tmp) as url:
        times = asyncio.run(send_all(url))
        served = [r["server_seconds"] for r in _recorded(url)]
    return [t - s for t, s in zip(times, served, strict=True)]


def _per_turn_ms(per_request: list[float]) -> list[float]:
    return [(per_request[i] + per_request[i + 1]) * 1000 for i in range(0, len(per_request), 2)]


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        work, home = Path(tmp) / "work", Path(tmp) / "home"
        work.mkdir()
        (work / "notes.txt").write_text("".join(f"note {i}: keep it simple\n" for i in range(40)))
        with _server(Path(tmp)) as url:
            result = asyncio.run(_session(url, work, home))
            requests = _recorded(url)
        raws = [r["raw"].encode() for r in requests]
        floor = _replay(Path(tmp), raws)
        sdk_floor = _replay_sdk(Path(tmp), raws, typed=False)
        typed = _replay_sdk(Path(tmp), raws, typed=True)
    server_s = [r["server_seconds"] for r in requests]
    per_turn_bytes = [len(raws[i]) + len(raws[i + 1]) for i in range(0, len(raws), 2)]
    shares = [_common_prefix(a, b) / len(b) for a, b in itertools.pairwise(raws)]
    ms = [
        (wall - server_s[2 * i] - server_s[2 * i + 1]) * 1000
        for i, wall in enumerate(result["wall"])
    ]
    loop_ms = [(w - m) * 1000 for w, m in zip(result["wall"], result["model"], strict=True)]
    floor_ms = _per_turn_ms(floor)
    ours_ms = [a - b for a, b in zip(ms, floor_ms, strict=True)]
    sdk_ms, typed_ms = _per_turn_ms(sdk_floor), _per_turn_ms(typed)
    above_sdk_ms = [a - b for a, b in zip(ms, sdk_ms, strict=True)]
    lines = [
        "## Harness overhead",
        "",
        f"{TURNS} turns, each: user prompt → model calls `file_read` → model answers "
        f"({len(requests)} streamed requests to the fake server in its own process; real "
        "`openai` SDK; the same app the CLI builds).",
        "Target: p50 under 5 ms.",
        "",
        "| measure | p50 | p95 | max |",
        "|---|---|---|---|",
        f"| our time per turn (wall − server time), ms | {median(ms):.2f} | "
        f"{percentile(ms, 95):.2f} | {max(ms):.2f} |",
        f"| HTTP floor: the same 2 requests replayed with plain async httpx, ms | "
        f"{median(floor_ms):.2f} | {percentile(floor_ms, 95):.2f} | {max(floor_ms):.2f} |",
        f"| **ours above that floor** (agent + adapter + SDK), ms | **{median(ours_ms):.2f}** | "
        f"{percentile(ours_ms, 95):.2f} | {max(ours_ms):.2f} |",
        f"| SDK floor: the same 2 requests through the `openai` client's `post` alone, ms | "
        f"{median(sdk_ms):.2f} | {percentile(sdk_ms, 95):.2f} | {max(sdk_ms):.2f} |",
        f"| ours above the SDK floor (agent + adapter), ms | {median(above_sdk_ms):.2f} | "
        f"{percentile(above_sdk_ms, 95):.2f} | {max(above_sdk_ms):.2f} |",
        f"| (for scale) the same 2 requests through the typed `chat.completions.create`, ms | "
        f"{median(typed_ms):.2f} | {percentile(typed_ms, 95):.2f} | {max(typed_ms):.2f} |",
        f"| of which outside the model call (loop, tools, context), ms | {median(loop_ms):.2f} | "
        f"{percentile(loop_ms, 95):.2f} | {max(loop_ms):.2f} |",
        f"| bytes sent per turn | {median(per_turn_bytes):,.0f} | "
        f"{percentile(per_turn_bytes, 95):,.0f} | {max(per_turn_bytes):,} |",
        f"| request that is a byte-identical prefix of the previous one | {median(shares):.1%} | "
        f"{percentile(shares, 5):.1%} (p5) | min {min(shares):.1%} |",
        "",
        "Every time excludes the server's own handling time (its handler measures it). The "
        "HTTP floor is what loopback HTTP with a new connection per request costs on this "
        "machine before any agent code runs; the SDK floor adds what the official SDK "
        "itself costs on the path our adapter takes (building and JSON-encoding the request, "
        "decoding each streamed chunk). The typed `create()` re-validates the whole history "
        "on every call, which is why the adapter posts its JSON body through the same client "
        "instead. The first turn includes imports and the tokenizer load (the max "
        "column).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
