"""`mnemo safety check` (ask the policy without running anything) and `mnemo audit`."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from mnemocode.cli.launch import load
from mnemocode.cli.options import CwdOpt, Options, fail, guarded

safety_cli = typer.Typer(help="Ask the safety policy; inspect its rules.", no_args_is_help=True)


def _policy(opts: Options, mode: str | None) -> Any:
    from mnemocode.app import project_state_dir
    from mnemocode.config.paths import mnemo_home
    from mnemocode.safety.setup import build_policy

    settings = load(opts).settings
    config = settings.safety.model_copy(update={"mode": mode}) if mode else settings.safety
    home = mnemo_home(os.environ)
    return build_policy(
        config,
        workdir=opts.cwd,
        user_home=Path.home(),
        mnemo_home=home,
        state_dir=project_state_dir(home, opts.cwd),
    )


@safety_cli.command("check")
def check_command(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None, typer.Argument(help="The shell command (after --).")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", help="Check a file access instead.")] = None,
    write: Annotated[
        bool, typer.Option("--write", help="With --path: a write, not a read.")
    ] = False,
    mode: Annotated[str | None, typer.Option("--mode", help="ask, auto or bypass.")] = None,
    cwd: CwdOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the decision (allow / ask / deny), the reason and the rule — runs nothing."""
    from mnemocode.core.protocols import ToolContext
    from mnemocode.core.types import ToolCall
    from mnemocode.safety.sandbox import LocalSandbox

    parent: Options = ctx.obj or Options()
    opts = Options(cwd=cwd or parent.cwd, verbose=parent.verbose)
    if mode not in (None, "ask", "auto", "bypass"):
        raise fail(f"--mode must be ask, auto or bypass, not {mode!r}")
    text = " ".join(command or []).strip()
    if bool(text) == bool(path):
        raise fail("give either a command (mnemo safety check -- 'cmd') or --path PATH")
    if path:
        call = ToolCall(
            "check", "file_write" if write else "file_read", {"path": path, "content": ""}
        )
    else:
        call = ToolCall("check", "shell_exec", {"command": text})
    policy = guarded(opts, lambda: _policy(opts, mode))
    verdict = policy.decide(call, None, ToolContext(cwd=opts.cwd, sandbox=LocalSandbox()))
    record: dict[str, Any] = {
        "decision": verdict.action,
        "reason": verdict.reason,
        "rule": verdict.rule,
        "mode": policy.mode,
    }
    if verdict.shell is not None:
        record["commands"] = list(verdict.shell.commands)
        record["writes"] = list(verdict.shell.writes)
    if verdict.path is not None:
        record["path"] = str(verdict.path.resolved)
        record["zone"] = verdict.path.zone
    if as_json:
        typer.echo(json.dumps(record))
        return
    typer.echo(f"{verdict.action}: {verdict.reason}")
    typer.echo(f"  rule: {verdict.rule} (mode {policy.mode})")
    for key in ("commands", "writes", "path", "zone"):
        if record.get(key):
            value = record[key]
            typer.echo(f"  {key}: {', '.join(value) if isinstance(value, list) else value}")


def audit_command(
    ctx: typer.Context,
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    tool: Annotated[str | None, typer.Option(help="Only this tool.")] = None,
    decision: Annotated[str | None, typer.Option(help="allow, ask or deny.")] = None,
    outcome: Annotated[
        str | None, typer.Option(help="approved or denied (denied: every refusal).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Who decided: policy, user, headless, network, sandbox, recheck."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="ISO date or time, e.g. 2026-11-20.")] = None,
    limit: Annotated[int, typer.Option(help="Newest N entries.")] = 50,
    cwd: CwdOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Query the audit log of this project: every safety decision."""
    from mnemocode.app import project_state_dir
    from mnemocode.config.paths import mnemo_home
    from mnemocode.safety.audit import AuditLog

    parent: Options = ctx.obj or Options()
    where = (cwd or parent.cwd).expanduser().resolve()
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise fail(f"--since: not an ISO date or time: {since!r}") from None
    log = AuditLog(project_state_dir(mnemo_home(os.environ), where) / "audit.jsonl")
    if outcome is not None and outcome not in {"approved", "denied"}:
        raise fail(f"--outcome: approved or denied, not {outcome!r}")
    entries = log.query(
        session=session,
        tool=tool,
        decision=decision,
        outcome=outcome,
        source=source,
        since=start,
        limit=limit,
    )
    for entry in entries:
        if as_json:
            typer.echo(json.dumps(entry.to_dict(), default=str))
        else:
            typer.echo(entry.one_line())
    if not entries and not as_json:
        typer.echo("no audit entries match")


def register(app: typer.Typer) -> None:
    app.add_typer(safety_cli, name="safety")
    app.command("audit")(audit_command)
