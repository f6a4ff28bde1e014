"""The runtime's sandbox adapters over the local and bubblewrap sandboxes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mnemocode.runtime.protocols import SandboxAdapter
from mnemocode.safety.runtime_sandbox import (
    BubblewrapSandboxAdapter,
    LocalSandboxAdapter,
    sandbox_adapter,
)


async def test_local_runs_a_command_in_its_directory_and_says_which_agent(tmp_path: Path) -> None:
    adapter: SandboxAdapter = LocalSandboxAdapter()
    outcome = await adapter.run("agent-7", 'pwd; echo "$MNEMO_AGENT_ID"; exit 3', cwd=str(tmp_path))
    assert adapter.kind == "local"
    assert outcome.exit_code == 3 and not outcome.timed_out
    assert outcome.output.split() == [str(tmp_path), "agent-7"]


async def test_a_command_past_its_timeout_is_killed(tmp_path: Path) -> None:
    adapter = LocalSandboxAdapter()
    outcome = await adapter.run("a", "echo started; sleep 30", cwd=str(tmp_path), timeout_s=0.3)
    assert outcome.timed_out and "started" in outcome.output


async def test_bubblewrap_keeps_the_rest_of_the_file_system_read_only(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is required: .ci/run installs it")
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    adapter = BubblewrapSandboxAdapter()
    outcome = await adapter.run(
        "a", f"touch inside.txt && touch {outside}/escaped.txt", cwd=str(work)
    )
    assert adapter.kind == "bubblewrap"
    assert (work / "inside.txt").exists()
    assert outcome.exit_code != 0 and not (outside / "escaped.txt").exists()


def test_the_best_adapter_is_bubblewrap_where_it_is_installed() -> None:
    assert sandbox_adapter().kind == "bubblewrap"  # bwrap is installed by .ci/run
    assert sandbox_adapter("local").kind == "local"
    with pytest.raises(ValueError, match="unknown sandbox kind"):
        sandbox_adapter("docker")  # type: ignore[arg-type]
