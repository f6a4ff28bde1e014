"""``mnemo memory ...`` and ``mnemo project ...``: memory and projects from scripts.

No model is needed: the memory of the project of ``--cwd`` (or ``--project NAME``)
is opened directly. ``.mnemo/MEMORY.md`` is synced when memory is opened (so hand
edits are seen) and after every change (so the file follows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mnemocode.cli.launch import load
from mnemocode.cli.options import CwdOpt, Options, fail, guarded

if TYPE_CHECKING:
    from mnemocode.memory.projects import Project
    from mnemocode.memory.service import Memory
    from mnemocode.memory.worker import JobsReport

memory_cli = typer.Typer(
    help="Show and edit what mnemo remembers (no model needed); alone, shows it.",
    invoke_without_command=True,
)
project_cli = typer.Typer(help="List, rename, move and delete projects.", no_args_is_help=True)

ProjectNameOpt = Annotated[
    str | None,
    typer.Option("--project", help="This project (default: the one of the directory)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KindOpt = Annotated[
    str | None,
    typer.Option("--kind", help="decision, architecture, convention, progress, task, fact, note."),
]
StatusOpt = Annotated[
    str | None, typer.Option("--status", help="active, rejected, reversed or done.")
]


def _options(ctx: typer.Context, cwd: Path | None, project: str | None) -> Options:
    parent: Options = ctx.obj or Options()
    name = project or getattr(parent, "project", None)
    return Options(cwd=cwd or parent.cwd, verbose=parent.verbose, project=name)


def _home() -> Path:
    from mnemocode.config.paths import mnemo_home

    return mnemo_home(os.environ)


def _find_project(opts: Options, *, create: bool) -> Project:
    from mnemocode.cli.commands.project import open_projects
    from mnemocode.config.paths import find_project_root

    with open_projects(_home()) as registry:
        if opts.project:
            return registry.require(opts.project)
        if create:
            root = find_project_root(opts.cwd, env=os.environ) or opts.cwd
            return registry.resolve(opts.cwd, root=root)
        found = registry.for_directory(opts.cwd)
    if found is None:
        raise fail(f"no mnemo project for {opts.cwd} yet (run mnemo there, or pass --project)", 1)
    return found


@contextmanager
def open_memory(opts: Options, *, create: bool = False) -> Iterator[tuple[Memory, Any]]:
    """The memory of the chosen project (with MEMORY.md edits taken in) and the
    settings of its work directory."""
    from mnemocode.llm.tokens import count_tokens
    from mnemocode.memory.service import Memory

    project = guarded(opts, lambda: _find_project(opts, create=create))
    where = project.workdir if project.workdir.is_dir() else opts.cwd
    settings = load(Options(cwd=where, verbose=opts.verbose)).settings
    memory = guarded(
        opts,
        lambda: Memory(
            home=_home(), project=project, config=settings.memory, count_tokens=count_tokens
        ),
    )
    try:
        report = _sync(memory, settings)
        if report is not None and (report.user_edits or report.problem):
            typer.echo(report.describe(), err=True)
        yield memory, settings
    finally:
        memory.close()


def _sync(memory: Memory, settings: Any) -> Any:
    if settings.memory.mirror and memory.project.workdir.is_dir():
        return memory.sync_mirror(memory.project.workdir)
    return None


def _change(
    ctx: typer.Context, cwd: Path | None, project: str | None, action: Callable[[Memory], str]
) -> None:
    """Open memory (creating the project when new), change it, sync MEMORY.md, say what."""
    opts = _options(ctx, cwd, project)
    with open_memory(opts, create=True) as (memory, settings):
        done = guarded(opts, lambda: action(memory))
        _sync(memory, settings)
    typer.echo(done)


# ---- mnemo memory --------------------------------------------------------------------


@memory_cli.callback()
def memory_main(
    ctx: typer.Context, cwd: CwdOpt = None, project: ProjectNameOpt = None, as_json: JsonOpt = False
) -> None:
    """`mnemo memory` alone shows memory, like `/memory` (see `mnemo memory show`)."""
    if ctx.invoked_subcommand is None:
        show_command(ctx, cwd, project, as_json)


@memory_cli.command("show")
def show_command(
    ctx: typer.Context, cwd: CwdOpt = None, project: ProjectNameOpt = None, as_json: JsonOpt = False
) -> None:
    """Core memory (traits, with scores), project memory, recent sessions, tokens."""
    from mnemocode.cli.commands.memory import report, report_lines

    with open_memory(_options(ctx, cwd, project)) as (memory, _settings):
        data = report(memory)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for line, _style in report_lines(data):
        typer.echo(line)


@memory_cli.command("set")
def set_command(
    ctx: typer.Context,
    key: str,
    value: str,
    kind: KindOpt = None,
    status: StatusOpt = None,
    cwd: CwdOpt = None,
    project: ProjectNameOpt = None,
) -> None:
    """Add or change a project entry (a new one is a fact unless --kind says otherwise)."""
    from mnemocode.cli.commands.memory import describe, set_entry

    def action(memory: Memory) -> str:
        entry, created = set_entry(memory, key, value, kind=kind, status=status)
        return f"{'added' if created else 'updated'} {describe(entry)}"

    _change(ctx, cwd, project, action)


@memory_cli.command("del")
def del_command(
    ctx: typer.Context, key: str, cwd: CwdOpt = None, project: ProjectNameOpt = None
) -> None:
    """Delete a project entry by key (or a core trait: trait:<id>)."""
    from mnemocode.cli.commands.memory import MemoryCommandError, delete_item, lookup

    def action(memory: Memory) -> str:
        item = lookup(memory, key)
        if item is None:
            raise MemoryCommandError(f"no memory entry named {key!r}")
        return delete_item(memory, item)

    _change(ctx, cwd, project, action)


def _pin(ctx: typer.Context, key: str, cwd: Path | None, project: str | None, on: bool) -> None:
    from mnemocode.cli.commands.memory import set_pin

    _change(ctx, cwd, project, lambda memory: set_pin(memory, key, on))


@memory_cli.command("pin")
def pin_command(
    ctx: typer.Context, key: str, cwd: CwdOpt = None, project: ProjectNameOpt = None
) -> None:
    """Pin an entry or trait: always in the prompt, kept through compaction."""
    _pin(ctx, key, cwd, project, True)


@memory_cli.command("unpin")
def unpin_command(
    ctx: typer.Context, key: str, cwd: CwdOpt = None, project: ProjectNameOpt = None
) -> None:
    """Unpin an entry or trait."""
    _pin(ctx, key, cwd, project, False)


@memory_cli.command("remember")
def remember_command(
    ctx: typer.Context,
    text: str,
    is_global: Annotated[
        bool, typer.Option("--global", help="About you, for every project (a core trait).")
    ] = False,
    cwd: CwdOpt = None,
    project: ProjectNameOpt = None,
) -> None:
    """Remember a note for the project (or, with --global, something about you)."""
    from mnemocode.cli.commands.memory import describe, remember_global

    def action(memory: Memory) -> str:
        item = remember_global(memory, text) if is_global else memory.remember(text)
        return f"remembered {describe(item)}"

    _change(ctx, cwd, project, action)


@memory_cli.command("forget")
def forget_command(
    ctx: typer.Context, target: str, cwd: CwdOpt = None, project: ProjectNameOpt = None
) -> None:
    """Forget an entry (key), a trait (trait:<id>), or the one item matching words."""
    from mnemocode.cli.commands.memory import MemoryCommandError, describe, forget

    def action(memory: Memory) -> str:
        result = forget(memory, target)
        if result.deleted is not None:
            return result.deleted
        if not result.candidates:
            raise MemoryCommandError(f"nothing in memory matches {target!r}")
        listed = "; ".join(describe(item) for item in result.candidates)
        raise MemoryCommandError(
            f"{len(result.candidates)} items match {target!r}, nothing forgotten — "
            f"name one by key or trait:<id>: {listed}"
        )

    _change(ctx, cwd, project, action)


@memory_cli.command("search")
def search_command(
    ctx: typer.Context,
    query: str,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most N results.")] = 10,
    cwd: CwdOpt = None,
    project: ProjectNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search summaries, project memory, past conversations and core memory."""
    opts = _options(ctx, cwd, project)
    with open_memory(opts) as (memory, _settings):
        hits = guarded(opts, lambda: memory.search(query, limit=limit))
    for hit in hits:
        if as_json:
            typer.echo(json.dumps(asdict(hit), ensure_ascii=False))
        else:
            typer.echo(f"[{hit.source}] {hit.ref}  {' '.join(hit.text.split())[:100]}")
    if not hits and not as_json:
        typer.echo(f"nothing in memory matches {query!r}")


@memory_cli.command("sessions")
def sessions_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="The newest N sessions.")] = 20,
    cwd: CwdOpt = None,
    project: ProjectNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The project's sessions, newest first."""
    from mnemocode.memory.injection import stamp

    with open_memory(_options(ctx, cwd, project)) as (memory, _settings):
        sessions = memory.sessions.recent(limit)
    for info in sessions:
        if as_json:
            typer.echo(json.dumps(asdict(info), ensure_ascii=False))
        else:
            title = info.title or "(untitled)"
            typer.echo(f"{info.id}  {stamp(info.updated)}  {title}  ({info.messages} messages)")
    if not sessions and not as_json:
        typer.echo("no sessions yet")


@memory_cli.command("process")
def process_command(ctx: typer.Context, cwd: CwdOpt = None, project: ProjectNameOpt = None) -> None:
    """Do the queued memory work now (session summaries, extraction) with the model."""
    import asyncio

    from mnemocode.llm.factory import build_model

    opts = _options(ctx, cwd, project)
    with open_memory(opts) as (memory, settings):
        pending = memory.pending_jobs()
        if not pending:
            typer.echo("no memory work is queued")
            return
        if not settings.is_configured:
            raise fail("no model is configured; run `mnemo init` first")
        alias, config = guarded(opts, lambda: settings.model(settings.memory.model))
        model = guarded(opts, lambda: build_model(alias, config, env=os.environ))

        def progress(line: str) -> None:
            typer.echo(line, err=True)

        async def run() -> JobsReport:
            from mnemocode.cli.commands.model import close_model

            try:
                return await memory.run_jobs(model, progress)
            finally:
                await close_model(model)

        report = asyncio.run(run())
        left = memory.pending_jobs()
    # Counted at the end: a run adds jobs as it goes (consolidation, embeddings).
    total = report.done + report.gave_up + left
    line = f"{report.done} of {total} memory jobs done" + (f"; {left} still queued" if left else "")
    typer.echo(line + "".join(f"; {failure}" for failure in report.failures))
    if left or report.gave_up:
        raise typer.Exit(1)


# ---- mnemo project -------------------------------------------------------------------


@project_cli.command("list")
def project_list_command(ctx: typer.Context, cwd: CwdOpt = None, as_json: JsonOpt = False) -> None:
    """Every project: name, work directory, sessions, last use (● the one of --cwd)."""
    from mnemocode.cli.commands.project import open_projects, project_line, project_record

    opts = _options(ctx, cwd, None)
    home = _home()
    with open_projects(home) as registry:
        here = registry.for_directory(opts.cwd)
        current = here.name if here else None
        records = [project_record(home, p, current=current) for p in registry.all()]
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for record in records:
        typer.echo(project_line(record))
    if not records:
        typer.echo("no projects yet")


@project_cli.command("rename")
def project_rename_command(ctx: typer.Context, old: str, new: str) -> None:
    """Rename a project; its sessions and memory stay with it."""
    from mnemocode.cli.commands.project import open_projects

    opts = _options(ctx, None, None)
    with open_projects(_home()) as registry:
        renamed = guarded(opts, lambda: registry.rename(old, new))
    with open_memory(_options(ctx, None, renamed.name)):
        pass  # MEMORY.md carries the project's name: synced on opening
    typer.echo(f"renamed {old} to {renamed.name}")


@project_cli.command("workdir")
def project_workdir_command(ctx: typer.Context, name: str, path: Path) -> None:
    """Point a project at another work directory (it moved)."""
    from mnemocode.cli.commands.project import open_projects

    opts = _options(ctx, None, None)
    folder = path.expanduser() if path.expanduser().is_absolute() else opts.cwd / path
    with open_projects(_home()) as registry:
        project = guarded(opts, lambda: registry.set_workdir(name, folder))
    typer.echo(f"work directory of {project.name} is now {project.workdir}")


@project_cli.command("delete")
def project_delete_command(
    ctx: typer.Context,
    pattern: Annotated[str, typer.Argument(metavar="NAME|GLOB")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete projects (name or glob) with their sessions and memory. Asks first."""
    from mnemocode.cli.commands.project import CONFIRM_WORD, delete_project, open_projects

    home = _home()
    with open_projects(home) as registry:
        doomed = sorted(registry.matching(pattern), key=lambda p: p.name)
        if not doomed:
            raise fail(f"no project matches {pattern!r}", 1)
        typer.echo(f"This deletes {len(doomed)} project(s) with their sessions and memory:")
        for project in doomed:
            typer.echo(f"  {project.name}  {project.workdir}  ({project.data_dir(home)})")
        if not yes:
            try:
                answer = typer.prompt(
                    f"Type {CONFIRM_WORD} to confirm", default="", show_default=False
                )
            except typer.Abort:
                typer.echo()
                answer = ""
            if answer.strip() != CONFIRM_WORD:
                raise fail("nothing deleted", 1)
        for project in doomed:
            delete_project(registry, home, project)
    typer.echo(f"deleted {', '.join(p.name for p in doomed)}")


def register(app: typer.Typer) -> None:
    app.add_typer(memory_cli, name="memory")
    app.add_typer(project_cli, name="project")
