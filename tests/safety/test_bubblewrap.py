"""The bubblewrap sandbox for real (`bwrap` is installed by .ci/run)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from mnemocode.core.protocols import CommandSpec
from mnemocode.safety.bubblewrap import BubblewrapSandbox


async def test_work_directory_is_writable_and_the_rest_is_not(tmp_path: Path) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    home_file = Path.home() / ".mnemo-bwrap-test"
    sandbox = BubblewrapSandbox()
    command = (
        f"echo in > {work}/made.txt; "
        f"echo out > {outside}/escaped.txt; "
        f"echo home > {home_file} || echo 'home is read-only'"
    )
    result = await sandbox.run(CommandSpec(command, cwd=work, timeout_s=20))
    assert (work / "made.txt").read_text() == "in\n"
    assert not (outside / "escaped.txt").exists()  # /tmp inside is a private tmpfs
    assert not home_file.exists()
    assert "home is read-only" in result.output


async def test_network_can_be_cut(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    probe = (
        f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2); "
        "print('connected')\""
    )
    try:
        with_net = await BubblewrapSandbox(network=True).run(
            CommandSpec(probe, cwd=tmp_path, timeout_s=20)
        )
        without = await BubblewrapSandbox(network=False).run(
            CommandSpec(probe, cwd=tmp_path, timeout_s=20)
        )
    finally:
        listener.close()
    assert "connected" in with_net.output and with_net.exit_code == 0
    assert "connected" not in without.output and without.exit_code != 0


async def test_timeout_still_kills_the_sandboxed_group(tmp_path: Path) -> None:
    result = await BubblewrapSandbox().run(CommandSpec("sleep 30", cwd=tmp_path, timeout_s=0.5))
    assert result.timed_out
