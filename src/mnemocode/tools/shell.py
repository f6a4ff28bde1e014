"""``shell_exec``: one command through ``ctx.sandbox``, output streamed as it comes."""

from __future__ import annotations

import signal

from mnemocode.core.errors import ToolError
from mnemocode.core.events import ToolOutputDelta
from mnemocode.core.protocols import CommandResult, CommandSpec, ToolContext
from mnemocode.tools.base import tool

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_OUTPUT_BYTES = 30_000


@tool()
async def shell_exec(
    ctx: ToolContext,
    command: str,
    timeout_s: float | None = None,
    background_after_s: float | None = None,
    cwd: str = "",
) -> str:
    """Run a bash command; returns exit code and combined stdout/stderr.

    Args:
        command: The command line.
        timeout_s: Kill it after this many seconds (default 120).
        background_after_s: Move it to the background if still running after this many
            seconds (servers, watchers).
        cwd: Working directory, relative to the project root.
    """
    if not command.strip():
        raise ToolError("command is empty")
    timeout = timeout_s
    if timeout is None:
        timeout = float(ctx.settings.get("shell_timeout_s") or DEFAULT_TIMEOUT_S)
    background = background_after_s
    if background is None:
        background = ctx.settings.get("shell_background_after_s")
    if timeout <= 0 or (background is not None and background <= 0):
        raise ToolError("timeout_s and background_after_s must be positive")
    workdir = ctx.cwd / cwd if cwd else ctx.cwd
    if not workdir.is_dir():
        raise ToolError(f"{cwd} is not a directory")
    spec = CommandSpec(
        command,
        workdir,
        timeout_s=timeout,
        background_after_s=background,
        log_dir=ctx.log_dir,
        max_output_bytes=int(ctx.settings.get("shell_max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES)),
    )
    call_id = ctx.current_call_id

    def on_output(text: str) -> None:
        ctx.emit(ToolOutputDelta(call_id, text))

    result = await ctx.sandbox.run(spec, on_output)
    return format_result(result, spec)


def format_result(result: CommandResult, spec: CommandSpec) -> str:
    """What the model reads: a status line, then the output."""
    output = result.output.rstrip("\n") or "(no output)"
    if result.backgrounded:
        status = (
            f"Still running in the background after {spec.background_after_s:g}s "
            f"(pid {result.pid}); output so far is below, and output continues in "
            f"{result.log_path}. Read it with file_read; stop it with: kill -- -{result.pid}"
        )
    elif result.timed_out:
        status = f"Timed out after {spec.timeout_s:g}s; the command and its children were killed."
    else:
        status = f"Exit code: {_exit_text(result.exit_code)}"
    if result.output_truncated:
        status += " (output cut in the middle"
        status += f"; full output in {result.log_path})" if result.log_path else ")"
    return f"{status}\n{output}"


def _exit_text(code: int | None) -> str:
    if code is None or code >= 0:
        return str(code)
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"{code} (killed by {name})"
