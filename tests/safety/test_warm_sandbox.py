"""Warm sandboxes (``safety/warm.py``): one long-lived bwrap starts the commands.

Reusing a sandbox must not weaken it: what one command leaves running dies with
it, a credential store that appears or is replaced later is hidden from the next
command, network stays per command, and a sandbox that dies is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.core.protocols import CommandSpec
from mnemocode.safety.bubblewrap import BubblewrapSandbox
from mnemocode.safety.confinement import Confinement
from tests.e2e.hostile import Listener
from tests.safety.test_confinement import MARKER, fake_home, spec, work

__all__ = ["fake_home", "work"]  # the fixtures, shared with test_confinement


def sandbox(work: Path, home: Path, *, warm: bool = True) -> BubblewrapSandbox:
    plan = Confinement(workdir=work, home=home, mnemo_home=home / ".mnemo")
    return BubblewrapSandbox(confinement=plan, warm=warm)


def running_with(marker: str) -> list[int]:
    """PIDs (ours) of live processes whose command line has ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state not in {"Z", "X"}:
            found.append(int(entry.name))
    return found


def kill_warm_sandboxes(work: Path) -> int:
    """SIGKILL the warm sandboxes of this test (their bwrap mounts ``work``)."""
    killed = 0
    for pid in running_with("The executor inside a warm sandbox"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
            if str(work) in cmdline:
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


@pytest.fixture
def box(work: Path, fake_home: Path) -> Iterator[BubblewrapSandbox]:
    made = sandbox(work, fake_home)
    yield made
    asyncio.run(made.aclose())


async def test_commands_share_one_sandbox_and_its_private_tmp(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    name = f"warm-{os.getpid()}"
    await box.run(spec(f"echo kept > /tmp/{name}", work, fake_home))
    seen = await box.run(spec(f"cat /tmp/{name}", work, fake_home))
    assert seen.output.strip() == "kept"  # the same sandbox ran both
    assert not Path("/tmp", name).exists()
    cold = sandbox(work, fake_home, warm=False)
    await cold.run(spec(f"echo kept > /tmp/{name}", work, fake_home))
    assert "kept" not in (await cold.run(spec(f"cat /tmp/{name}", work, fake_home))).output


async def test_nothing_a_command_leaves_running_outlives_it(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    marker = f"31{os.getpid() % 1000:03d}"
    command = (
        f"(sleep {marker}1 &); setsid sleep {marker}2 & nohup sleep {marker}3 >/dev/null 2>&1 & "
        f"disown; sleep {marker}4 & echo left"
    )
    result = await box.run(spec(command, work, fake_home))
    assert result.output.strip() == "left"
    assert running_with(f"sleep {marker}") == []
    again = await box.run(spec("echo next", work, fake_home))  # the sandbox itself lives on
    assert again.output.strip() == "next"


async def test_a_command_running_beside_another_is_not_swept(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    slow = box.run(spec("sleep 1; echo slow done", work, fake_home))
    fast = box.run(spec("echo fast", work, fake_home))
    slow_result, fast_result = await asyncio.gather(slow, fast)
    assert fast_result.output.strip() == "fast"
    assert slow_result.output.strip() == "slow done" and slow_result.exit_code == 0


async def test_a_background_job_survives_the_commands_after_it(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    job = await box.run(
        spec("sleep 1; echo job done", work, fake_home, background_after_s=0.2, log_dir=work)
    )
    assert job.backgrounded and job.log_path is not None
    await box.run(spec("echo other", work, fake_home))
    for _ in range(100):
        if "job done" in job.log_path.read_text():
            break
        await asyncio.sleep(0.05)
    assert "job done" in job.log_path.read_text()


async def test_a_credential_store_created_later_is_hidden_from_the_next_command(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    (fake_home / ".aws").rename(fake_home / "aws-away")
    await box.run(spec("true", work, fake_home))  # the warm sandbox starts without ~/.aws
    (fake_home / "aws-away").rename(fake_home / ".aws")
    seen = await box.run(spec("cat ~/.aws/credentials; echo end", work, fake_home))
    assert MARKER not in seen.output, seen.output


async def test_a_hidden_file_replaced_by_rename_stays_hidden(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    """An editor saves by writing a new file and renaming it over the old one; the
    kernel then detaches the old mount in every other namespace."""
    await box.run(spec("true", work, fake_home))
    fresh = fake_home / ".netrc.new"
    fresh.write_text(f"machine y login u password {MARKER}-renamed\n")
    fresh.replace(fake_home / ".netrc")
    seen = await box.run(spec("cat ~/.netrc; echo end", work, fake_home))
    assert MARKER not in seen.output, seen.output


async def test_network_stays_per_command(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    listener = Listener()
    try:
        send = f"exec 3<>/dev/tcp/127.0.0.1/{listener.port}; echo {MARKER}-%s >&3; exec 3>&-"
        await box.run(spec(send % "off1", work, fake_home))
        granted = await box.run(spec(send % "on", work, fake_home, network=True))
        await box.run(spec(send % "off2", work, fake_home))
        assert listener.wait_for(f"{MARKER}-on".encode()), granted.output
        assert f"{MARKER}-off".encode() not in listener.received
    finally:
        listener.close()


async def test_a_killed_sandbox_is_replaced(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    await box.run(spec("true", work, fake_home))
    assert kill_warm_sandboxes(work) > 0
    after = await box.run(spec("echo still here", work, fake_home))
    assert after.output.strip() == "still here"


async def test_a_sandbox_killed_mid_command_ends_the_command(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    running = asyncio.ensure_future(box.run(spec("sleep 20.5; echo finished", work, fake_home)))
    for _ in range(200):
        if running_with("sleep 20.5"):
            break
        await asyncio.sleep(0.02)
    assert kill_warm_sandboxes(work) > 0
    result = await asyncio.wait_for(running, 10)
    assert "finished" not in result.output and result.exit_code != 0
    assert running_with("sleep 20.5") == []


async def test_a_timeout_kills_the_command_in_the_warm_sandbox(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    result = await box.run(CommandSpec("sleep 27182", work, timeout_s=0.5))
    assert result.timed_out
    assert running_with("sleep 27182") == []


async def test_an_interrupted_command_is_killed_with_its_children(
    work: Path, fake_home: Path, box: BubblewrapSandbox
) -> None:
    marker = f"42{os.getpid() % 1000:03d}"
    running = asyncio.ensure_future(
        box.run(spec(f"sleep {marker}1 & sleep {marker}2; echo never", work, fake_home))
    )
    for _ in range(200):
        if len(running_with(f"sleep {marker}")) == 2:
            break
        await asyncio.sleep(0.02)
    running.cancel()  # Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await running
    assert running_with(f"sleep {marker}") == []
    after = await box.run(spec("echo after", work, fake_home))
    assert after.output.strip() == "after"
