"""Start-up with extensions present against none: `mnemo --help` and a whole
first request (`mnemo -p`, the fake OpenAI-compatible server) with 50 user skills
in ``$MNEMO_HOME/skills``, 20 Claude Code agent files in ``$MNEMO_HOME/agents`` and
10 custom tool files in ``$MNEMO_HOME/tools`` versus an empty home. Discovery must stay lazy: within
10 % of none."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median, percentile

HELP_RUNS, REQUEST_RUNS, SKILLS, AGENTS, TOOLS = 21, 9, 50, 20, 10

TOOL_FILE = '''from mnemocode.tools.base import tool


@tool(read_only=True)
async def bench_tool_{i}(text: str, times: int = 1) -> str:
    """Repeat a text (bench tool {i}).

    Args:
        text: The text.
        times: How often.
    """
    return text * times
'''


def _home(root: Path, skills: int, base_url: str) -> Path:
    home = root / f"home-{skills}"
    (home / "skills").mkdir(parents=True)
    (home / "config.toml").write_text(
        f'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "m"\n'
        f'base_url = "{base_url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n'
        "[memory]\nenabled = false\n"
    )
    for i in range(skills):
        folder = home / "skills" / f"skill-{i:02d}"
        folder.mkdir()
        body = "Step.\n" * 200
        (folder / "SKILL.md").write_text(
            f"---\nname: skill-{i:02d}\ndescription: Does task number {i} well.\n"
            f"license: MIT\nmetadata:\n  owner: bench\n---\n{body}"
        )
    if skills:
        _agents_and_tools(home)
    return home


def _agents_and_tools(home: Path) -> None:
    (home / "agents").mkdir()
    for i in range(AGENTS):
        (home / "agents" / f"agent-{i:02d}.md").write_text(
            f"---\nname: agent-{i:02d}\ndescription: Handles job {i}.\n"
            f"tools: Read, Grep, Glob\nmodel: inherit\n---\n" + "You do job.\n" * 100
        )
    (home / "tools").mkdir()
    for i in range(TOOLS):
        (home / "tools" / f"tool_{i:02d}.py").write_text(TOOL_FILE.format(i=i))


def _time(argv: list[str], home: Path, cwd: Path, runs: int) -> tuple[float, float]:
    env = {**os.environ, "MNEMO_HOME": str(home), "NO_COLOR": "1", "HOME": str(cwd)}
    for _ in range(2):
        subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode()[-500:])
    return median(samples), percentile(samples, 90)


def run() -> str:
    from mnemocode.llm.testing import FakeOpenAIServer, text

    mnemo = str(Path(sys.executable).parent / "mnemo")
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer([text("ok")] * (2 * (REQUEST_RUNS + 2))) as server,
    ):
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        homes = {n: _home(root, n, server.base_url) for n in (0, SKILLS)}
        for label, argv, runs in (
            ("mnemo --help", [mnemo, "--help"], HELP_RUNS),
            ("mnemo -p hi (first request)", [mnemo, "-p", "hi"], REQUEST_RUNS),
        ):
            none = _time(argv, homes[0], work, runs)
            some = _time(argv, homes[SKILLS], work, runs)
            rows.append((label, none, some))
    lines = [
        "## Extensions at start-up",
        "",
        f"Median and p90 (s) of {HELP_RUNS} (`--help`) / {REQUEST_RUNS} (`-p`) runs after 2 "
        f"warm-up runs, with no extensions and with {SKILLS} user skills (each a 200-line "
        f"body), {AGENTS} agent files and {TOOLS} custom tool files. Target: within 10 % of "
        "none (discovery reads only frontmatter, tool files are imported in the background, "
        "and only when a session starts).",
        "",
        "| command | none: median | p90 | with extensions: median | p90 | change |",
        "|---|---|---|---|---|---|",
    ]
    for label, (n_med, n_p90), (s_med, s_p90) in rows:
        change = (s_med - n_med) / n_med * 100
        cells = f"{n_med:.3f} | {n_p90:.3f} | {s_med:.3f} | {s_p90:.3f}"
        lines.append(f"| `{label}` | {cells} | {change:+.1f} % |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.chdir(ROOT)
    print(run())
