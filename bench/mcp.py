"""MCP client costs: time to the first model request with three stdio servers
configured (none / eager / lazy), the tokens their tool schemas take in that
request, and one tool-call round trip through our client against the SDK's
``mcp.Client.call_tool`` alone.

Time to first request: ``mnemo -p`` is spawned against the fake OpenAI-compatible
server running in this process; the figure is the server's arrival time of the
first chat request minus the moment before the spawn (one clock, one process).
The three set-ups run interleaved, after one discarded warm-up run each (which,
for lazy, is also the run that writes the cached tool list lazy start uses).

Round trip: two processes of the same server, one held by our ``McpToolset``
(the agent's path below the guard: name lookup, ``ServerConnection.call`` with its
timeout, result conversion), one by a bare ``mcp.Client``; calls alternate.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, percentile

RUNS = 9
CALLS = 300
WARM_CALLS = 20
MODES = ("none", "eager", "lazy")


def _servers() -> dict[str, dict[str, Any]]:
    """The three reference servers: two from PyPI (in this venv), one from npm."""
    bindir = Path(sys.executable).parent
    everything = shutil.which("mcp-server-everything")
    if everything is None:
        raise SystemExit("npm i -g @modelcontextprotocol/server-everything (.ci/run installs it)")
    return {
        "time": {"command": str(bindir / "mcp-server-time"), "args": []},
        "git": {"command": str(bindir / "mcp-server-git"), "args": []},
        "everything": {"command": everything, "args": []},
    }


def _config(url: str, mode: str) -> str:
    text = (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n'
    )
    if mode != "none":
        text += f'[mcp]\nstartup = "{mode}"\n'
    return text


def _home(root: Path, mode: str, url: str) -> Path:
    home = root / f"home-{mode}"
    home.mkdir()
    (home / "config.toml").write_text(_config(url, mode), encoding="utf-8")
    if mode != "none":
        servers = {"mcpServers": _servers()}
        (home / "mcp.json").write_text(json.dumps(servers), encoding="utf-8")
    return home


def _first_request_s(home: Path, work: Path, arrivals: list[float]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env |= {"MNEMO_HOME": str(home), "NO_COLOR": "1", "OPENAI_API_KEY": "bench"}
    seen = len(arrivals)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mnemocode", "-p", "say hi"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or len(arrivals) != seen + 1:
        raise RuntimeError(f"mnemo -p failed ({done.returncode}): {done.stderr[-2000:]}")
    return arrivals[seen] - start


def _schema_tokens(tools: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(tools, tokens) per server of the tools array the model was sent; built-ins
    under ``(built-in)``. Each tool counted as compact JSON (o200k)."""
    from mnemocode.extensions.mcp.toolset import server_of
    from mnemocode.llm.tokens import count_tokens

    found: dict[str, tuple[int, int]] = {}
    for tool in tools:
        server = server_of(tool["function"]["name"]) or "(built-in)"
        count, tokens = found.get(server, (0, 0))
        tokens += count_tokens(json.dumps(tool, separators=(",", ":"), ensure_ascii=False))
        found[server] = (count + 1, tokens)
    return found


def _startup(root: Path) -> tuple[dict[str, list[float]], list[dict[str, Any]]]:
    from mnemocode.llm.testing import FakeOpenAIServer, RecordedRequest, Turn, text

    arrivals: list[float] = []

    def answer(_request: RecordedRequest) -> Turn:
        arrivals.append(time.perf_counter())
        return text("hi")

    work = root / "work"
    work.mkdir()
    times: dict[str, list[float]] = {m: [] for m in MODES}
    with FakeOpenAIServer(answer) as server:
        homes = {m: _home(root, m, server.base_url) for m in MODES}
        for mode in MODES:  # warm-up; for lazy it writes the cached tool lists
            _first_request_s(homes[mode], work, arrivals)
        eager_tools: list[dict[str, Any]] = server.chat_requests[1].body.get("tools", [])
        for _ in range(RUNS):
            for mode in MODES:
                times[mode].append(_first_request_s(homes[mode], work, arrivals))
    return times, eager_tools


async def _round_trips(spec_args: dict[str, Any], tool: str, args: dict[str, Any]) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from mnemocode.core.protocols import ToolContext
    from mnemocode.core.types import ToolCall
    from mnemocode.extensions.mcp.config import ServerSpec
    from mnemocode.extensions.mcp.toolset import McpToolset, tool_name
    from mnemocode.safety.sandbox import LocalSandbox

    work = Path(tempfile.mkdtemp())
    spec = ServerSpec("bench", "stdio", "config", "bench", command=spec_args["command"], args=())
    ours = McpToolset([spec], workdir=work)
    reports = await ours.start()
    if reports:
        raise RuntimeError("; ".join(reports))
    ctx = ToolContext(cwd=work, sandbox=LocalSandbox())
    call = ToolCall("c1", tool_name("bench", tool), args)
    params = StdioServerParameters(command=spec_args["command"], args=[], cwd=work)
    ours_ms: list[float] = []
    sdk_ms: list[float] = []
    try:
        from mcp.client.stdio import stdio_client

        with open(os.devnull, "w") as errlog:  # noqa: ASYNC230
            async with Client(stdio_client(params, errlog=errlog)) as sdk:
                protocol = (ours.connections["bench"].protocol, sdk.protocol_version)
                for i in range(WARM_CALLS + CALLS):
                    # Alternate which goes first so neither always follows the other.
                    order = ("ours", "sdk") if i % 2 == 0 else ("sdk", "ours")
                    for who in order:
                        start = time.perf_counter()
                        if who == "ours":
                            result = await ours.call(call, ctx)
                            failed = result.is_error
                        else:
                            failed = (await sdk.call_tool(tool, args)).is_error
                        took = (time.perf_counter() - start) * 1000
                        if failed:
                            raise RuntimeError(f"{who}: {tool} failed")
                        if i >= WARM_CALLS:
                            (ours_ms if who == "ours" else sdk_ms).append(took)
    finally:
        await ours.aclose()
        shutil.rmtree(work, ignore_errors=True)
    return ours_ms, sdk_ms, protocol


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def run() -> str:
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        times, tools = _startup(Path(tmp))
    servers = _servers()
    trips = [
        ("mcp-server-time `get_current_time`", servers["time"], "get_current_time",
         {"timezone": "UTC"}),
        ("mcp-server-everything `echo`", servers["everything"], "echo", {"message": "hi"}),
    ]  # fmt: skip
    trip_rows = []
    for label, server, tool, args in trips:
        ours_ms, sdk_ms, protocol = asyncio.run(_round_trips(server, tool, args))
        diff = [a - b for a, b in zip(ours_ms, sdk_ms, strict=True)]
        trip_rows.append((label, protocol[0], ours_ms, sdk_ms, diff))
    tokens = _schema_tokens(tools)
    lines = [
        "## MCP client",
        "",
        f"Three stdio servers configured in `~/.mnemo/mcp.json`: `mcp-server-time`, "
        "`mcp-server-git` (PyPI, this venv) and `mcp-server-everything` (npm, Node "
        f"{_node_version()}). Machine shared while measuring: {load_before} before, "
        f"{_load()} after.",
        "",
        "### Time to first request",
        "",
        f"`mnemo -p` spawned against the fake OpenAI-compatible server (in the bench "
        "process): the server's arrival time of the first chat request − the moment "
        f"before the spawn. {RUNS} runs per set-up, interleaved, after one discarded "
        "warm-up run each. Lazy start offers the cached tool lists (`mcp-tools.json` in "
        "the project's state folder) and starts a server only at its first call; the "
        "cache was warmed by that warm-up run (a lazy server with no cached list "
        "starts with the session).",
        "",
        "| servers configured | median (s) | p90 (s) | over none, median (s) |",
        "|---|---|---|---|",
    ]
    floor = median(times["none"])
    labels = {"none": "none (the floor)", "eager": "3, eager", "lazy": "3, lazy (cache warm)"}
    for mode in MODES:
        t = times[mode]
        lines.append(
            f"| {labels[mode]} | {median(t):.3f} | {percentile(t, 90):.3f} | "
            f"{median(t) - floor:+.3f} |"
        )
    total_tools = sum(n for s, (n, _t) in tokens.items() if s != "(built-in)")
    total_tokens = sum(t for s, (_n, t) in tokens.items() if s != "(built-in)")
    lines += [
        "",
        "### Tool schema tokens",
        "",
        "The `tools` array of the eager run's first request, each tool as compact JSON, "
        "counted with o200k (`mnemocode.llm.tokens`); descriptions already capped at "
        "`[mcp] max_description_chars` (2,000).",
        "",
        "| server | tools | tokens |",
        "|---|---|---|",
    ]
    for server in ("time", "git", "everything"):
        n, t = tokens.get(server, (0, 0))
        lines.append(f"| {server} | {n} | {t:,} |")
    lines.append(f"| **all three** | **{total_tools}** | **{total_tokens:,}** |")
    n, t = tokens.get("(built-in)", (0, 0))
    lines += [f"| (for scale) mnemo's built-in tools | {n} | {t:,} |", ""]
    lines += [
        "### One tool call, round trip",
        "",
        f"{CALLS} calls each after {WARM_CALLS} warm-up calls, ours and the SDK's "
        "alternating (the order flips every call), each against its own process of the "
        "same server. Ours: `McpToolset.call` (what the guard calls: name lookup, "
        "`ServerConnection.call` with its timeout, result conversion). SDK: "
        "`mcp.Client.call_tool` alone. Target: ours within 1 ms of the SDK's.",
        "",
        "| server, tool (protocol) | ours p50 (ms) | ours p95 | SDK p50 (ms) | SDK p95 | "
        "ours − SDK, p50 of pairs (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for label, protocol, ours_ms, sdk_ms, diff in trip_rows:
        lines.append(
            f"| {label} ({protocol}) | {median(ours_ms):.3f} | {percentile(ours_ms, 95):.3f} | "
            f"{median(sdk_ms):.3f} | {percentile(sdk_ms, 95):.3f} | {median(diff):+.3f} |"
        )
    return "\n".join(lines) + "\n"


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


if __name__ == "__main__":
    print(run())
