"""The runtime's ``SandboxAdapter`` over the sandboxes we already have: a local
process (``LocalSandbox``) or, where ``bwrap`` is installed, bubblewrap (the root
file system read-only, the command's directory and the allowed paths writable).

Containers (docker, podman, a remote VM) plug in at the protocol itself: anything
with ``kind`` and ``async run(agent_id, command, *, cwd, timeout_s) ->
CommandOutcome`` is a sandbox to the runtime; nothing here needs to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from mnemocode.core.protocols import CommandSpec
from mnemocode.runtime.protocols import CommandOutcome
from mnemocode.safety.bubblewrap import BubblewrapSandbox, bwrap_path
from mnemocode.safety.sandbox import LocalSandbox

SandboxKind = Literal["local", "bubblewrap"]


class LocalSandboxAdapter:
    """Commands as local processes, each in its own process group with rlimits.
    The command sees ``MNEMO_AGENT_ID`` (which agent asked for it)."""

    kind: str = "local"

    def __init__(self, sandbox: LocalSandbox | None = None, *, max_output_bytes: int = 1_000_000):
        self.sandbox = sandbox or LocalSandbox()
        self.max_output_bytes = max_output_bytes

    async def run(
        self, agent_id: str, command: str, *, cwd: str, timeout_s: float = 120.0
    ) -> CommandOutcome:
        spec = CommandSpec(
            command,
            Path(cwd),
            timeout_s=timeout_s,
            env={"MNEMO_AGENT_ID": agent_id},
            max_output_bytes=self.max_output_bytes,
        )
        result = await self.sandbox.run(spec)
        return CommandOutcome(result.exit_code, result.output, result.timed_out)

    async def aclose(self) -> None:
        await self.sandbox.aclose()


class BubblewrapSandboxAdapter(LocalSandboxAdapter):
    """Commands inside bubblewrap; ``FileNotFoundError`` when ``bwrap`` is missing."""

    kind = "bubblewrap"

    def __init__(
        self,
        *,
        writable: Sequence[Path] = (),
        network: bool = True,
        max_output_bytes: int = 1_000_000,
    ) -> None:
        sandbox = BubblewrapSandbox(writable=writable, network=network)
        super().__init__(sandbox, max_output_bytes=max_output_bytes)


def sandbox_adapter(
    kind: SandboxKind | Literal["best"] = "best",
    *,
    writable: Sequence[Path] = (),
    network: bool = True,
) -> LocalSandboxAdapter:
    """The adapter of ``kind``; ``best`` is bubblewrap where it is installed, else
    local. Asking for bubblewrap without ``bwrap`` raises ``FileNotFoundError``."""
    if kind == "bubblewrap" or (kind == "best" and bwrap_path() is not None):
        return BubblewrapSandboxAdapter(writable=writable, network=network)
    if kind in ("local", "best"):
        return LocalSandboxAdapter()
    raise ValueError(f"unknown sandbox kind {kind!r} (local, bubblewrap or best)")
