"""/model: list the configured models, or switch to one.

A switch builds the model and makes one tiny call first (``App.switch_model``);
when that fails — a missing key, an unreachable endpoint — the current model
stays and the reason is printed. Only a switch that worked is saved as the
default (``active_model`` in the global config).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mnemocode.cli.commands import ReplContext, SlashCommand
from mnemocode.config import set_active_model
from mnemocode.core.errors import MnemoError


async def model_command(ctx: ReplContext, arg: str) -> None:
    _refresh(ctx)
    if not arg:
        _list_models(ctx)
        return
    app = ctx.app
    models = app.settings.models
    if arg not in models:
        known = ", ".join(sorted(models)) or "none"
        ctx.console.print(Text(f"✗ no model named {arg!r} (known: {known})", style="red"))
        return
    if arg == app.model_alias:
        ctx.console.print(Text(f"already using {arg}", style="dim"))
        return
    previous, old_model = app.model_alias, app.agent.slot.model
    try:
        with ctx.renderer.status(f"checking {arg}…"):
            await app.switch_model(arg)
    except MnemoError as exc:
        why = f"✗ cannot switch to {arg}: {exc.one_line()} — still using {previous}"
        ctx.console.print(Text(why, style="red"))
        return
    config = app.model_config
    ctx.console.print(Text(f"now using {arg} ({config.model})", style="green"))
    await close_model(old_model)
    _save(ctx, arg)


def _refresh(ctx: ReplContext) -> None:
    """Models added to the global config since the start (by hand, or by `mnemo init`
    in another terminal) become known. Entries already known stay as they were
    loaded: a trusted project's may differ from the global file's."""
    from mnemocode.config.loader import load_settings

    app = ctx.app
    env = {**app.env, "MNEMO_HOME": str(app.home)}
    try:
        fresh = load_settings(app.cwd, env=env).settings.models
    except MnemoError as exc:
        ctx.console.print(Text(f"(config not re-read: {exc.one_line()})", style="yellow"))
        return
    for alias, config in fresh.items():
        app.settings.models.setdefault(alias, config)


async def close_model(model: object) -> None:
    """Release a model's connections (SDK clients) when it has ``aclose``."""
    aclose = getattr(model, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing is best effort; the session goes on
            return


def _save(ctx: ReplContext, alias: str) -> None:
    if ctx.config_path is None:
        return
    try:
        set_active_model(ctx.config_path, alias)
    except (MnemoError, OSError) as exc:
        ctx.console.print(Text(f"(not saved as the default: {exc})", style="yellow"))
        return
    ctx.console.print(Text(f"saved as the default in {ctx.config_path}", style="dim"))


def _list_models(ctx: ReplContext) -> None:
    app = ctx.app
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for alias, config in sorted(app.settings.models.items()):
        active = alias == app.model_alias
        mark = Text("●" if active else " ", style="green")
        where = config.base_url or config.provider
        table.add_row(mark, Text(alias, style="bold" if active else ""), config.model, where)
    ctx.console.print(table)
    ctx.console.print(Text("/model <alias> switches", style="dim"))


COMMANDS = [
    SlashCommand("model", "list models, or switch to one", model_command, usage="[alias]"),
]
