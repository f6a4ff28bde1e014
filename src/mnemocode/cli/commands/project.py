"""Project commands: /project (show, list, new, switch, workdir, rename, delete).

A project is a name, a work directory and a data folder; the folder's name (the
slug) never changes, so a rename keeps every session and memory. The helpers
before the handlers are shared with ``mnemo project ...`` (``cli/memory_cli.py``).
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.core.errors import MnemoError

if TYPE_CHECKING:
    from mnemocode.memory.projects import Project, ProjectRegistry

CONFIRM_WORD = "delete"


# ---- shared with `mnemo project ...` -------------------------------------------------


@contextlib.contextmanager
def open_projects(home: Path) -> Iterator[ProjectRegistry]:
    from mnemocode.memory.service import open_registry

    registry = open_registry(home)
    try:
        yield registry
    finally:
        registry.conn.close()


def session_count(home: Path, project: Project) -> int:
    """Sessions with messages stored for ``project`` (0 before its first)."""
    from mnemocode.memory.db import connect
    from mnemocode.memory.migrations import PROJECT_MIGRATIONS
    from mnemocode.memory.sessions import SessionStore

    path = project.data_dir(home) / "memory.db"
    if not path.is_file():
        return 0
    conn = connect(path, PROJECT_MIGRATIONS)
    try:
        return len(SessionStore(conn).recent(-1))
    finally:
        conn.close()


def project_record(home: Path, project: Project, *, current: str | None = None) -> dict[str, Any]:
    return {
        "name": project.name,
        "workdir": str(project.workdir),
        "workdir_exists": project.workdir.is_dir(),
        "data_dir": str(project.data_dir(home)),
        "sessions": session_count(home, project),
        "last_used": project.last_used,
        "current": project.name == current,
    }


def project_line(record: dict[str, Any]) -> str:
    from mnemocode.memory.injection import stamp

    mark = "●" if record["current"] else " "
    missing = "" if record["workdir_exists"] else " (missing)"
    return (
        f"{mark} {record['name']}  {record['workdir']}{missing}  "
        f"{record['sessions']} sessions · last used {stamp(record['last_used'])}"
    )


def delete_project(registry: ProjectRegistry, home: Path, project: Project) -> None:
    """Remove the project from the registry and its data folder (sessions, memory,
    checkpoints, audit log). Files in its work directory are left alone."""
    registry.delete(project.name)
    folder = project.data_dir(home)
    if folder.resolve().parent == (home / "projects").resolve() and folder.is_dir():
        shutil.rmtree(folder)


def words(arg: str) -> list[str]:
    """Shell-like words, so a name with spaces can be quoted."""
    try:
        return shlex.split(arg)
    except ValueError as exc:
        raise MnemoError(f"cannot read {arg!r}: {exc}") from None


# ---- /project ------------------------------------------------------------------------

PROJECT_USAGE = (
    "usage: /project [list | new NAME [DIR] | switch NAME | workdir [DIR] | "
    "rename [OLD] NEW | delete NAME|GLOB]"
)


async def project_command(ctx: ReplContext, arg: str) -> None:
    action, _, rest = arg.strip().partition(" ")
    handlers = {
        "": _show,
        "list": _list,
        "new": _new,
        "switch": _switch,
        "workdir": _workdir,
        "rename": _rename,
        "delete": _delete,
    }
    handler = handlers.get(action)
    if handler is None:
        ctx.say(PROJECT_USAGE, "yellow")
        return
    try:
        await handler(ctx, rest.strip())
    except MnemoError as exc:
        ctx.say(f"✗ {exc.one_line()}", "red")


async def _show(ctx: ReplContext, rest: str) -> None:
    app = ctx.app
    project = app.project
    if project is None:
        ctx.say(f"no registered project; working in {app.cwd}", "dim")
        return
    ctx.say(f"project {project.name}", "bold")
    ctx.say(f"  work directory  {project.workdir}")
    ctx.say(f"  data            {project.data_dir(app.home)}")
    if app.memory is None:
        ctx.say("  memory          off", "dim")
        return
    sessions = len(app.memory.sessions.recent(-1))
    ctx.say(f"  sessions        {sessions}")
    tokens = app.memory.layer_tokens(app.agent.history)
    tokens["recent"] = app.memory.recent_section(exclude_session=app.session_id).tokens
    ctx.say("  tokens          " + " · ".join(f"{k} {v:,}" for k, v in tokens.items()))


async def _list(ctx: ReplContext, rest: str) -> None:
    with open_projects(ctx.app.home) as registry:
        projects = registry.all()
    if not projects:
        ctx.say("no projects yet", "dim")
    for project in projects:
        ctx.say(project_line(project_record(ctx.app.home, project, current=ctx.app.project_name)))


async def _new(ctx: ReplContext, rest: str) -> None:
    args = words(rest)
    if len(args) not in (1, 2):
        raise MnemoError("usage: /project new NAME [DIR]")
    folder = Path(args[1]).expanduser() if len(args) == 2 else ctx.app.cwd
    folder = folder if folder.is_absolute() else ctx.app.cwd / folder
    if not folder.is_dir():
        raise MnemoError(f"{folder} is not a directory")
    with open_projects(ctx.app.home) as registry:
        project = registry.create(folder, args[0])
    ctx.say(f"created project {project.name} in {project.workdir}", "green")
    ctx.say(f"/project switch {shlex.quote(project.name)} works in it", "dim")


async def _switch(ctx: ReplContext, rest: str) -> None:
    name = _one(rest, "usage: /project switch NAME")
    with open_projects(ctx.app.home) as registry:
        target = registry.require(name)
    old = ctx.app
    if old.project is not None and target.name == old.project.name:
        ctx.say(f"already in project {target.name}", "dim")
        return
    if ctx.rebuild is None or ctx.adopt is None:
        ctx.say(f"restart with `mnemo --project {shlex.quote(target.name)}` to switch", "yellow")
        return
    try:
        new = ctx.rebuild(target.name)
    except MnemoError:
        raise
    except Exception as exc:  # e.g. the project's config does not load
        raise MnemoError(f"cannot open project {target.name}: {type(exc).__name__} {exc}") from exc
    from mnemocode.cli.memory_session import start_in_background

    # adopt queues the old session's memory work and hands it off (no model call here).
    await ctx.adopt(new)
    ctx.shell_notes.clear()
    ctx.say(f"now in project {new.project_name} ({new.cwd})", "green")
    start_in_background(new, ctx.console)


async def _workdir(ctx: ReplContext, rest: str) -> None:
    app = ctx.app
    if app.project is None:
        raise MnemoError("no registered project here")
    if not rest:
        ctx.say(str(app.project.workdir))
        return
    folder = Path(_one(rest, "usage: /project workdir [DIR]")).expanduser()
    folder = folder if folder.is_absolute() else app.cwd / folder
    with open_projects(app.home) as registry:
        project = registry.set_workdir(app.project.name, folder)
    app.project = project
    ctx.say(f"work directory of {project.name} is now {project.workdir}", "green")
    ctx.say("this session keeps working in the old one; it applies from the next start", "dim")


async def _rename(ctx: ReplContext, rest: str) -> None:
    args = words(rest)
    if len(args) == 1 and ctx.app.project is not None:
        args = [ctx.app.project.name, args[0]]
    if len(args) != 2:
        raise MnemoError("usage: /project rename [OLD] NEW")
    with open_projects(ctx.app.home) as registry:
        renamed = registry.rename(args[0], args[1])
    app = ctx.app
    if app.project is not None and app.project.slug == renamed.slug:
        app.project = renamed
        if app.memory is not None:
            app.memory.project = renamed
        app.refresh_memory()
    ctx.say(f"renamed {args[0]} to {renamed.name} (sessions and memory kept)", "green")


async def _delete(ctx: ReplContext, rest: str) -> None:
    pattern = _one(rest, "usage: /project delete NAME|GLOB")
    app = ctx.app
    with open_projects(app.home) as registry:
        found = sorted(registry.matching(pattern), key=lambda p: p.name)
        current = [p for p in found if app.project is not None and p.slug == app.project.slug]
        if current:
            ctx.say(f"{current[0].name} is the current project; it is not deleted", "yellow")
        doomed = [p for p in found if p not in current]
        if not doomed:
            ctx.say(f"no project to delete matches {pattern!r}", "yellow")
            return
        ctx.say(f"This deletes {len(doomed)} project(s) with their sessions and memory:", "bold")
        for project in doomed:
            ctx.say(f"  {project.name}  {project.workdir}  ({project.data_dir(app.home)})")
        ctx.say(f"Type {CONFIRM_WORD} to confirm.", "bold yellow")
        answer = await ctx.ask("> ") if ctx.ask else ""
        if answer.strip() != CONFIRM_WORD:
            ctx.say("nothing deleted")
            return
        for project in doomed:
            delete_project(registry, app.home, project)
    ctx.say(f"deleted {', '.join(p.name for p in doomed)}", "green")


def _one(rest: str, usage: str) -> str:
    args = words(rest)
    if len(args) != 1:
        raise MnemoError(usage)
    return args[0]


COMMANDS = [
    SlashCommand(
        "project",
        "the current project; list, new, switch, workdir, rename, delete",
        project_command,
        "[list|new|switch|workdir|rename|delete ...]",
    ),
]
