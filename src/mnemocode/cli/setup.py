"""``mnemo init`` (first-run wizard, scriptable with flags) and ``mnemo doctor``."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from mnemocode.cli.launch import load
from mnemocode.cli.options import Options, VerboseOpt, fail, guarded


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    key: str
    label: str
    provider: str
    model: str
    base_url: str | None
    api_key_env: str | None
    context_window: int


PROVIDERS = [
    ProviderPreset("openai", "OpenAI", "openai", "gpt-4.1", None, "OPENAI_API_KEY", 1_000_000),
    ProviderPreset(
        "anthropic",
        "Anthropic",
        "anthropic",
        "claude-sonnet-4-5",
        None,
        "ANTHROPIC_API_KEY",
        200_000,
    ),
    ProviderPreset(
        "openrouter",
        "OpenRouter",
        "openai",
        "anthropic/claude-sonnet-4.5",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        200_000,
    ),
    ProviderPreset(
        "deepseek",
        "DeepSeek",
        "openai",
        "deepseek-chat",
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        128_000,
    ),
    ProviderPreset(
        "ollama",
        "Ollama (local)",
        "openai",
        "qwen2.5-coder:7b",
        "http://localhost:11434/v1",
        None,
        32_768,
    ),
    ProviderPreset(
        "local",
        "llama.cpp / vLLM / other OpenAI-compatible server",
        "openai",
        "local",
        "http://127.0.0.1:8080/v1",
        None,
        32_768,
    ),
]
_BY_KEY = {p.key: p for p in PROVIDERS}


def _probe(alias: str, entry: dict[str, Any]) -> tuple[bool, str]:
    """One tiny call with no retries; returns (ok, what happened)."""
    from mnemocode.app import probe_model
    from mnemocode.config.settings import ModelConfig
    from mnemocode.core.errors import MnemoError
    from mnemocode.llm.factory import build_model

    config = ModelConfig.model_validate({**entry, "max_retries": 0, "timeout_s": 30.0})
    started = time.perf_counter()
    try:
        answer = asyncio.run(probe_model(build_model(alias, config, env=os.environ)))
    except MnemoError as exc:
        return False, exc.one_line()
    return True, f"answered {answer.strip()[:40]!r} in {time.perf_counter() - started:.1f}s"


def run_init_wizard(
    opts: Options,
    *,
    preset_key: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    alias: str | None = None,
    context_window: int | None = None,
    project: bool = False,
    test: bool = True,
    interactive: bool = True,
    starting: bool = False,
) -> int:
    """``starting``: the REPL starts right after (the first run of ``mnemo``)."""
    if preset_key is None:
        if not interactive:
            raise fail("--provider is required with --non-interactive")
        for i, p in enumerate(PROVIDERS, 1):
            typer.echo(f"  {i}. {p.label}")
        choice = typer.prompt("Provider", default="1")
        preset_key = PROVIDERS[int(choice) - 1].key if choice.isdigit() else choice
    preset = _BY_KEY.get(preset_key)
    if preset is None:
        raise fail(f"unknown provider {preset_key!r}; choose one of: {', '.join(_BY_KEY)}")

    def ask(label: str, given: Any, default: Any) -> Any:
        if given is not None or not interactive:
            return given if given is not None else default
        return typer.prompt(label, default=default if default is not None else "",
                            show_default=bool(default))  # fmt: skip

    model = ask("Model", model, preset.model)
    base_url = ask("Base URL (empty for the provider default)", base_url, preset.base_url) or None
    key_env = (
        ask("API key environment variable (empty if none)", api_key_env, preset.api_key_env) or None
    )
    target = _target(opts, project=project)
    existing = _existing_models(target)
    alias = _choose_alias(alias, preset.key, existing, target, interactive=interactive)
    entry: dict[str, Any] = {"provider": preset.provider, "model": model}
    if base_url:
        entry["base_url"] = base_url
    if key_env:
        entry["api_key_env"] = key_env
    entry["context_window"] = _init_window(entry, context_window, preset.context_window)
    if key_env and not os.environ.get(key_env):
        typer.echo(
            f"Note: ${key_env} is not set in this shell; mnemo reads the key from it at run time."
        )
    ok = True
    if test:
        ok, what = _probe(str(alias), entry)
        # The error, then the advice on a line of its own (not wrapped mid-phrase).
        problem, _, advice = what.partition(" — ")
        typer.echo(f"{'✓' if ok else '✗'} test call: {problem}")
        if advice:
            typer.echo(f"  {advice}")
        if not ok and not (
            interactive and typer.confirm("Save the configuration anyway?", default=False)
        ):
            typer.echo(
                "Nothing was saved. Check the endpoint (is the server running? the model "
                "name?) and run `mnemo init` again, or add --no-test to save without the "
                "test call."
            )
            return 1
    path = _save(opts, str(alias), entry, project=project, make_active=ok)
    verb = "Replaced" if alias in existing else "Saved"
    typer.echo(f"{verb} model {alias!r} in {path}.")
    if not ok:
        typer.echo(
            f"It is not the default model, as its test call failed: `mnemo -m {alias}` "
            f"or `/model {alias}` uses it (it is used while it is the only model)."
        )
    typer.echo("Starting mnemo…" if starting else "Run `mnemo` to start, `mnemo doctor` to check.")
    return 0


def _target(opts: Options, *, project: bool) -> Path:
    from mnemocode.config.paths import global_config_path

    return opts.cwd / "mnemo.toml" if project else global_config_path(os.environ)


def _existing_models(path: Path) -> dict[str, dict[str, Any]]:
    """The ``[models.*]`` already in the file init writes to (unreadable: none)."""
    import tomllib

    try:
        models = tomllib.loads(path.read_text(encoding="utf-8")).get("models", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return (
        {k: v for k, v in models.items() if isinstance(v, dict)} if isinstance(models, dict) else {}
    )


def _choose_alias(
    given: str | None,
    default: str,
    existing: dict[str, dict[str, Any]],
    path: Path,
    *,
    interactive: bool,
) -> str:
    """The name of the new entry. A name that is taken is replaced only when asked
    for: ``--alias``, or a yes to the question; otherwise a free one is offered."""
    free = default
    n = 2
    while free in existing:
        free, n = f"{default}-{n}", n + 1
    if given is not None:
        return given
    if not interactive:
        if free != default:
            typer.echo(f"Note: {path} has a model named {default!r} already; this one is {free!r}.")
        return free
    while True:
        alias = str(typer.prompt("Name for this model", default=free, show_default=True)).strip()
        if alias not in existing:
            return alias
        old = existing[alias]
        where = old.get("base_url") or old.get("provider", "")
        question = f"{alias!r} is already {old.get('model', '?')} at {where}; replace it?"
        if typer.confirm(question, default=False):
            return alias


def _server_window(entry: dict[str, Any]) -> Any:
    """What the endpoint says its context window is (a ``ServerWindow``), or None."""
    from mnemocode.llm.window import probe_window, worth_asking

    base_url = entry.get("base_url")
    if not base_url or not worth_asking(entry.get("provider", "openai"), base_url):
        return None
    key_env = entry.get("api_key_env")
    key = os.environ.get(key_env) if key_env else None
    return probe_window(base_url, entry["model"], api_key=key, timeout=2.0)


def _init_window(entry: dict[str, Any], given: int | None, default: int) -> int:
    """``--context-window``, else what the server says, else the preset's."""
    found = _server_window(entry)
    if found is None:
        return given or default
    if given and given != found.tokens:
        typer.echo(
            f"Note: the server says its context window is {found.tokens} tokens "
            f"({found.source}); keeping --context-window {given}."
        )
        return given
    if not given:
        typer.echo(f"Context window: {found.tokens} tokens ({found.source}).")
    return int(found.tokens)


def _window_check(cfg: Any) -> Check | None:
    """Does the configured context window match what the server says?"""
    found = _server_window(cfg.model_dump(exclude_none=True))
    if found is None:
        return None
    configured = "context_window" in cfg.model_fields_set
    if configured and cfg.context_window != found.tokens:
        return (
            "warn",
            "window",
            f"config says {cfg.context_window} tokens, the server {found.tokens} "
            f"({found.source}): set context_window = {found.tokens}",
        )
    where = "as configured" if configured else "context_window unset: the server's is used"
    return ("ok", "window", f"{found.tokens} tokens ({found.source}; {where})")


def _save(
    opts: Options, alias: str, entry: dict[str, Any], *, project: bool, make_active: bool = True
) -> Path:
    """Write the entry; a project's own ``mnemo.toml`` written here keeps the folder
    trusted (see ``trust_cli.keep_trust_after_own_write``)."""
    from mnemocode.cli.trust_cli import check, keep_trust_after_own_write
    from mnemocode.config.clamp import endpoint_of
    from mnemocode.config.paths import global_config_path
    from mnemocode.config.writer import write_model_config

    if not project:
        path = global_config_path(os.environ)
        write_model_config(path, alias, entry, make_active=make_active)
        return path
    path = opts.cwd / "mnemo.toml"
    before = check(opts)
    write_model_config(path, alias, entry, make_active=make_active)
    note = guarded(
        opts, lambda: keep_trust_after_own_write(opts.cwd, before, (endpoint_of(entry),))
    )
    if note:
        typer.echo(note)
    return path


def init_command(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option(help=f"One of: {', '.join(_BY_KEY)}.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name at the provider.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint base URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the key.")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Name of this model entry.")] = None,
    context_window: Annotated[int | None, typer.Option(help="Context window in tokens.")] = None,
    project: Annotated[
        bool, typer.Option("--project", help="Write ./mnemo.toml instead of the global config.")
    ] = False,
    no_test: Annotated[
        bool, typer.Option("--no-test", help="Skip the one-token test call.")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Never prompt (CI).")
    ] = False,
) -> None:
    """Set up a model: provider, model, base URL, key variable, and a test call."""
    opts: Options = ctx.obj or Options()
    code = run_init_wizard(
        opts,
        preset_key=provider,
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        alias=alias,
        context_window=context_window,
        project=project,
        test=not no_test,
        interactive=not non_interactive,
    )
    raise typer.Exit(code)


# ---- doctor -----------------------------------------------------------------------

Check = tuple[str, str, str]  # (status "ok" | "warn" | "fail", what, detail)


def _tool_version(name: str, path: str | None) -> Check:
    if path is None:
        return ("warn", name, "not found")
    try:
        first = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ("warn", name, f"{path}: {exc}")
    return (
        "ok",
        name,
        f"{path} ({first.strip().splitlines()[0] if first.strip() else 'version unknown'})",
    )


def doctor_checks(opts: Options) -> list[Check]:
    from mnemocode.core.errors import MnemoError
    from mnemocode.tools.search import find_rg

    checks: list[Check] = []
    try:
        loaded = load(opts)
    except typer.Exit:
        return [("fail", "config", "invalid (see the error above)")]
    sources = ", ".join(str(p) for p in loaded.sources) or "no config files (defaults only)"
    checks.append(("ok", "config", sources))
    from mnemocode.cli.trust_cli import doctor_lines

    checks.extend(doctor_lines(opts, loaded))
    settings = loaded.settings
    if not settings.is_configured:
        checks.append(("fail", "model", "no model configured — run `mnemo init`"))
    else:
        try:
            alias, cfg = settings.model()
        except MnemoError as exc:
            checks.append(("fail", "model", exc.one_line()))
        else:
            where = cfg.base_url or "provider default endpoint"
            checks.append(("ok", "model", f"{alias}: {cfg.provider} {cfg.model} at {where}"))
            if cfg.api_key_env and not os.environ.get(cfg.api_key_env):
                checks.append(("fail", "api key", f"${cfg.api_key_env} is not set"))
            else:
                checks.append(
                    (
                        "ok",
                        "api key",
                        f"${cfg.api_key_env} is set" if cfg.api_key_env else "none needed",
                    )
                )
                ok, what = _probe(alias, cfg.model_dump(exclude_none=True))
                checks.append(("ok" if ok else "fail", "endpoint", what))
                window = _window_check(cfg) if ok else None
                if window is not None:
                    checks.append(window)
    rg = find_rg()
    checks.append(
        _tool_version("ripgrep", rg)
        if rg
        else ("warn", "ripgrep", "not found; grep uses the slower Python fallback")
    )
    checks.append(_tool_version("git", shutil.which("git")))
    checks.append(_sandbox_check())
    return checks


def _sandbox_check() -> tuple[str, str, str]:
    from mnemocode.safety.bubblewrap import bwrap_path, bwrap_problem

    bwrap = bwrap_path()
    if bwrap is None:
        return (
            "warn",
            "sandbox",
            "bubblewrap not found: commands are not confined, so ask mode asks for every "
            "command that is not read-only and auto mode runs only read-only ones "
            "(Debian/Ubuntu: apt install bubblewrap)",
        )
    problem = bwrap_problem()
    if problem:
        return ("fail", "sandbox", f"{bwrap} does not start: {problem}")
    return ("ok", "sandbox", f"bubblewrap ({bwrap}): work directory writable, network off")


def doctor_command(ctx: typer.Context, verbose: VerboseOpt = False) -> None:
    """Check configuration, API key, endpoint and tools; one verdict per line."""
    opts: Options = ctx.obj or Options()
    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    checks = doctor_checks(opts)
    for status, what, detail in checks:
        typer.echo(f"{marks[status]} {what:<11} {detail}")
    failed = [c for c in checks if c[0] == "fail"]
    typer.echo("\nAll good." if not failed else f"\n{len(failed)} problem(s) found.")
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    commands: list[tuple[str, Callable[..., None]]] = [
        ("init", init_command),
        ("doctor", doctor_command),
    ]
    for name, function in commands:
        app.command(name)(function)
