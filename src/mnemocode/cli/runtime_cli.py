"""``mnemo worker`` and ``mnemo runtime status|submit``: agents as workers on the
event runtime, and the commands that watch and feed them.

The backend comes from ``[runtime]`` in config; ``--backend`` and ``--url``
override it (for sqlite, ``--url`` is the database file). Everything heavy is
imported inside the commands, so ``mnemo --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mnemocode.cli.launch import load
from mnemocode.cli.options import CwdOpt, Options, fail, guarded

if TYPE_CHECKING:
    from mnemocode.config.settings import Settings
    from mnemocode.runtime.protocols import Backend

T = TypeVar("T")

runtime_cli = typer.Typer(
    help="The event runtime: its health, its workers, and tasks for them.", no_args_is_help=True
)

BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", help="memory, sqlite, redis or nats (default: [runtime] backend)."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="redis://… or nats://… server; for sqlite, the database file."),
]
QueueOpt = Annotated[str, typer.Option("--queue", help="The task queue.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _options(ctx: typer.Context, cwd: Path | None) -> Options:
    parent: Options = ctx.obj or Options()
    if cwd is not None:
        parent.cwd = cwd.expanduser().resolve()
    return parent


def _settings(opts: Options, backend: str | None, url: str | None) -> Settings:
    """Settings of ``opts.cwd`` with ``--backend``/``--url`` over ``[runtime]``."""
    from pydantic import ValidationError

    from mnemocode.config.settings import RuntimeConfig

    settings: Settings = load(opts).settings
    data = settings.runtime.model_dump()
    if backend is not None:
        data.update(backend=backend, url=None, path=None)
    if url is not None:
        if data["backend"] == "sqlite":
            data["path"] = url.removeprefix("sqlite://")
        else:
            data["url"] = url
    try:
        runtime = RuntimeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(f"runtime options: {problems}") from None
    return settings.model_copy(update={"runtime": runtime})


def _home() -> Path:
    from mnemocode.config.paths import mnemo_home

    return mnemo_home(os.environ)


def _using_backend(
    settings: Settings,
    use: Callable[[Backend], Awaitable[T]],
    *,
    connect_timeout: float | None = None,
) -> T:
    """Open the configured backend, ``use`` it, close it. ``BackendError`` when it
    cannot be opened within ``connect_timeout`` seconds."""
    from mnemocode.runtime.backends import open_backend
    from mnemocode.runtime.protocols import BackendError

    async def run() -> T:
        opening = open_backend(settings.runtime, home=_home())
        try:
            async with asyncio.timeout(connect_timeout):
                backend = await opening
        except TimeoutError:
            where = settings.runtime.url or settings.runtime.path or "the default place"
            raise BackendError(
                f"the {settings.runtime.backend} backend at {where} did not answer "
                f"within {connect_timeout:g} s"
            ) from None
        try:
            return await use(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def _with_backend(opts: Options, settings: Settings, use: Callable[[Backend], Awaitable[T]]) -> T:
    """``_using_backend``, our errors as one line."""
    return guarded(opts, lambda: _using_backend(settings, use))


def _err(message: str) -> None:
    print(f"mnemo: {message}", file=sys.stderr, flush=True)


# ---- mnemo worker --------------------------------------------------------------------


def worker_command(
    ctx: typer.Context,
    backend: BackendOpt = None,
    url: UrlOpt = None,
    queue: QueueOpt = "agent",
    worker_id: Annotated[
        str | None, typer.Option("--id", help="This worker's id (default: host-pid).")
    ] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option(
            "--capability", metavar="NAME", help="Something this worker offers (repeatable)."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve every action the safety mode asks about.")
    ] = False,
    visibility: Annotated[
        float, typer.Option("--visibility", help="Seconds a task stays ours without renewal.")
    ] = 60.0,
    grace: Annotated[
        float, typer.Option("--grace", help="On Ctrl-C/SIGTERM, seconds to finish the task.")
    ] = 10.0,
    cwd: CwdOpt = None,
) -> None:
    """Run agent tasks from the runtime's queue until Ctrl-C or SIGTERM (a task
    still running after --grace seconds is handed back to the queue)."""
    import socket

    opts = _options(ctx, cwd)
    settings = _settings(opts, backend, url)
    if not settings.is_configured:
        raise fail("no model is configured; run `mnemo init` first")
    name = worker_id or f"{socket.gethostname()}-{os.getpid()}"
    if visibility <= 0 or grace < 0:
        raise fail("--visibility must be positive and --grace not negative")

    async def work(backend_: Backend) -> int:
        from mnemocode.worker import run_worker

        stop = asyncio.Event()
        main = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set() and main is not None:
                main.cancel()  # the second Ctrl-C: hand the task back now
                return
            stop.set()
            _err(f"worker {name}: stopping (again to abort the current task)")

        for sig in _signals():
            loop.add_signal_handler(sig, on_signal)
        _err(
            f"worker {name}: {backend_.name} backend, queue {queue!r}, "
            f"model {settings.model()[0]} — Ctrl-C to stop"
        )
        try:
            return await run_worker(
                settings, home=_home(), backend=backend_, worker_id=name, stop=stop,
                queue=queue, capabilities=capability or (), visibility=visibility,
                ttl=max(3.0, min(30.0, visibility)), grace_s=grace, approve_all=yes,
                log=lambda message: _err(f"worker {name}: {message}"),
            )  # fmt: skip
        finally:
            for sig in _signals():
                loop.remove_signal_handler(sig)

    try:
        done = _with_backend(opts, settings, work)
    except asyncio.CancelledError:
        raise typer.Exit(130) from None
    _err(f"worker {name}: stopped after {done} task(s)")


def _signals() -> list[Any]:
    import signal

    return [signal.SIGINT, signal.SIGTERM]


# ---- mnemo runtime status ------------------------------------------------------------


@runtime_cli.command("status")
def status_command(
    ctx: typer.Context,
    backend: BackendOpt = None,
    url: UrlOpt = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", help="Queues to report (default: agent).")
    ] = None,
    as_json: JsonOpt = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the backend.")
    ] = 10.0,
) -> None:
    """The backend's health, queue sizes and the registered agents; exit 1 when
    the backend is unhealthy or unreachable."""
    from mnemocode.core.errors import MnemoError

    opts = _options(ctx, None)
    settings = _settings(opts, backend, url)
    queues = queue or ["agent"]
    try:
        report = _using_backend(settings, lambda b: _status(b, queues), connect_timeout=timeout)
    except (MnemoError, OSError) as exc:  # unreachable: a report too, not a crash
        detail = exc.one_line() if isinstance(exc, MnemoError) else f"{type(exc).__name__}: {exc}"
        report = {"health": {"backend": settings.runtime.backend, "ok": False,
                             "detail": detail}, "queues": {}, "agents": []}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        typer.echo(_describe(report))
    if not report["health"].get("ok"):
        raise typer.Exit(1)


async def _status(backend: Backend, queues: list[str]) -> dict[str, Any]:
    from dataclasses import asdict

    from mnemocode.runtime.services import StateAgentRegistry

    health = await backend.health()
    stats = {q: asdict(await backend.tasks.stats(q)) for q in queues}
    agents = [asdict(a) for a in await StateAgentRegistry(backend.state).agents()]
    return {"health": health, "queues": stats, "agents": agents}


def _describe(report: dict[str, Any]) -> str:
    import time

    health = report["health"]
    lines = [
        f"backend: {health.get('backend')} — {'ok' if health.get('ok') else 'UNHEALTHY'}"
        + (f" ({health['detail']})" if health.get("detail") else "")
    ]
    for name, stats in report["queues"].items():
        counts = ", ".join(f"{v} {k}" for k, v in stats.items())
        lines.append(f"queue {name}: {counts}")
    agents = report["agents"]
    lines.append(f"agents: {len(agents)}")
    for agent in agents:
        seen = max(0.0, time.time() - float(agent.get("last_seen") or 0))
        task = (agent.get("meta") or {}).get("task")
        caps = ", ".join(agent.get("capabilities") or ())
        lines.append(
            f"  {agent['id']}  {agent.get('host', '')} pid {agent.get('pid', 0)}"
            f"  seen {seen:.0f}s ago" + (f"  [{caps}]" if caps else "")
            + (f"  working on {task}" if task else "  idle")
        )  # fmt: skip
    return "\n".join(lines)


# ---- mnemo runtime submit ------------------------------------------------------------


@runtime_cli.command("submit")
def submit_command(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The task for the agent.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result and print it.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to --wait.")] = 600.0,
    session: Annotated[
        str | None, typer.Option("--session", help="Continue (or name) this session.")
    ] = None,
    priority: Annotated[int, typer.Option("--priority", help="Higher runs first.")] = 0,
    queue: QueueOpt = "agent",
    backend: BackendOpt = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
    cwd: CwdOpt = None,
) -> None:
    """Queue an agent task for the workers (the directory and project are this
    one's; --model picks the worker's model). Prints the task id, or with --wait
    the result (exit 1 if the task failed)."""
    if not prompt.strip():
        raise fail("the prompt is empty")
    opts = _options(ctx, cwd)
    settings = _settings(opts, backend, url)

    async def submit(backend_: Backend) -> dict[str, Any]:
        from mnemocode.runtime.agent_tasks import submit_task, wait_result

        task_id = await submit_task(
            backend_, prompt, cwd=opts.cwd, project=opts.project, session_id=session,
            model=opts.model, queue=queue, priority=priority,
        )  # fmt: skip
        if not wait:
            return {"task_id": task_id}
        return await wait_result(backend_, task_id, timeout)

    record = _with_backend(opts, settings, submit)
    if as_json:
        typer.echo(json.dumps(record, default=str))
    elif not wait:
        typer.echo(record["task_id"])
    elif record.get("ok"):
        typer.echo(str(record.get("result", "")).rstrip())
    else:
        _err(f"task {record.get('task_id')} failed: {record.get('error')}")
    if wait and not record.get("ok"):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.add_typer(runtime_cli, name="runtime")
