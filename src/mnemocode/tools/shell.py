"""``shell_exec``: one command through the sandbox, output streamed as it runs."""

from __future__ import annotations

from pathlib import Path

from mnemocode.core.errors import ToolError
from mnemocode.core.events import ToolOutputDelta
from mnemocode.core.protocols import CommandSpec, ToolContext
from mnemocode.tools.base import tool


@tool()
async def shell_exec(
    ctx: ToolContext,
    command: str,
    timeout_s: float | None = None,
    background_after_s: float | None = None,
    cwd: str | None = None,
) -> str:
    """Run a bash command in the project; returns exit code and output.

    Args:
        command: The command line.
        timeout_s: Kill it after this many seconds (default 120).
        background_after_s: Leave it running in the background after this many seconds.
        cwd: Directory to run in, relative to the project root.
    """
    if not command.strip():
        raise ToolError("command is empty")
    workdir = ctx.cwd
    if cwd:
        candidate = Path(cwd).expanduser()
        workdir = candidate if candidate.is_absolute() else ctx.cwd / candidate
        if not workdir.is_dir():
            raise ToolError(f"cwd {cwd} is not a directory")
    settings = ctx.settings
    spec = CommandSpec(
        command=command,
        cwd=workdir,
        timeout_s=timeout_s or float(settings.get("shell_timeout_s") or 120.0),
        background_after_s=background_after_s or settings.get("shell_background_after_s"),
        log_dir=ctx.log_dir,
    )
    call_id = ctx.current_call_id

    def stream(text: str) -> None:
        ctx.emit(ToolOutputDelta(call_id, text))

    result = await ctx.sandbox.run(spec, stream)
    output = result.output.rstrip("\n")
    if result.backgrounded:
        return (
            f"Still running in the background (pid {result.pid}); output continues in "
            f"{result.log_path}. Read it with file_read, stop it with `kill -- -{result.pid}`.\n"
            f"Output so far:\n{output}"
        )
    lines = []
    if result.timed_out:
        lines.append(f"Timed out after {spec.timeout_s:g}s; the process group was killed.")
    lines.append(f"Exit code: {result.exit_code}")
    if result.output_truncated:
        lines.append("(output was cut in the middle: too long)")
    lines.append(output if output else "(no output)")
    return "\n".join(lines)
