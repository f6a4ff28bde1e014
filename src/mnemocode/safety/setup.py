"""Builds the safety layer of one session from its config: policy, rules, zones,
sandbox per mode, checkpoints, audit log, redaction and the URL guard."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import Approver, CommandResult, CommandSpec, Toolset
from mnemocode.safety.audit import AuditLog
from mnemocode.safety.bubblewrap import BubblewrapSandbox, bwrap_path
from mnemocode.safety.checkpoints import CheckpointStore
from mnemocode.safety.confinement import HIDDEN_HOME, Confinement
from mnemocode.safety.domains import allow_patterns, domain_allowed, session_key
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.network import guarded_transport
from mnemocode.safety.paths import PathPolicy
from mnemocode.safety.policy import SafetyPolicy
from mnemocode.safety.previews import default_previewers
from mnemocode.safety.rules import RuleStore
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.secrets import Redactor


class ModalSandbox:
    """Runs each command where its mode and grant say: inside bubblewrap (confined)
    in ask and auto mode, as a plain process group with the secrets taken out of
    its environment when a command was approved to run unconfined, and untouched
    in bypass mode and for the user's own ``!cmd`` (``for_user``)."""

    def __init__(
        self, policy: SafetyPolicy, config: SafetyConfig, confinement: Confinement
    ) -> None:
        self.policy, self.config, self.confinement = policy, config, confinement
        self.plain = LocalSandbox()
        self.scrubbed = LocalSandbox(env_filter=confinement.environment)
        self._bwrap: BubblewrapSandbox | None = None

    @property
    def fallback_note(self) -> str:
        """Why commands are not confined in the current mode ("" when they are)."""
        mode = self.policy.mode
        if mode == "bypass":
            return "bypass mode: commands run outside the sandbox"
        kind = self.config.sandbox_auto if mode == "auto" else self.config.sandbox_ask
        if kind != "bubblewrap":
            return f'[safety] sandbox_{mode} = "{kind}": commands are not confined'
        if bwrap_path() is None:
            return (
                "bubblewrap is not installed, so commands are not confined: "
                + (
                    "auto mode runs only read-only commands"
                    if mode == "auto"
                    else "every command that is not read-only asks"
                )
                + " (Debian/Ubuntu: apt install bubblewrap)"
            )
        return ""

    def describe(self) -> str:
        """In words, where commands run now."""
        if self.policy.mode == "bypass":
            return "commands run on this machine with no sandbox"
        if not self.policy.confined:
            return "commands are not confined (no sandbox)"
        network = "on" if self.config.sandbox_network else "off unless approved"
        return (
            "commands run in a bubblewrap sandbox: only the work directory is writable, "
            f"credentials are hidden, network {network}"
        )

    def current(self) -> LocalSandbox:
        if self.policy.mode == "bypass":
            return self.plain
        if self.policy.confined:
            return self._confining()
        return self.scrubbed

    def for_user(self) -> LocalSandbox:
        """The user's own commands run as in their terminal."""
        return self.plain

    def _confining(self) -> BubblewrapSandbox:
        if self._bwrap is None:
            self._bwrap = BubblewrapSandbox(
                confinement=self.confinement,
                network=self.config.sandbox_network,
                warm=self.config.sandbox_warm,
            )
        return self._bwrap

    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult:
        sandbox = self.current()
        if not spec.confined and sandbox is not self.plain:
            sandbox = self.scrubbed
        return await sandbox.run(spec, on_output)

    async def aclose(self) -> None:
        for sandbox in (self.plain, self.scrubbed, self._bwrap):
            if sandbox is not None:
                await sandbox.aclose()


def confined_modes(config: SafetyConfig) -> frozenset[str]:
    """The modes whose commands run inside bubblewrap on this machine."""
    if bwrap_path() is None:
        return frozenset()
    kinds = {"ask": config.sandbox_ask, "auto": config.sandbox_auto}
    return frozenset(mode for mode, kind in kinds.items() if kind == "bubblewrap")


@dataclass(slots=True)
class Safety:
    guard: GuardedToolset
    policy: SafetyPolicy
    rules: RuleStore
    paths: PathPolicy
    checkpoints: CheckpointStore
    audit: AuditLog
    sandbox: ModalSandbox
    http_transport: Callable[[], Any]


def build_policy(
    config: SafetyConfig, *, workdir: Path, user_home: Path, mnemo_home: Path, state_dir: Path
) -> SafetyPolicy:
    """The decision-maker alone (no sandbox, checkpoints or log): what
    `mnemo safety check` asks, and the core of ``build_safety``."""
    extra = [Path(p).expanduser().resolve() for p in config.extra_allowed_paths]
    paths = PathPolicy(workdir=workdir, home=user_home, mnemo_home=mnemo_home, extra_allowed=extra)
    rules = RuleStore(
        global_path=mnemo_home / "rules.toml", project_path=state_dir / "rules.toml", home=user_home
    )
    return SafetyPolicy(
        config.mode,
        paths,
        rules,
        user_home,
        confined_modes=confined_modes(config),
        auto_network=tuple(config.auto_network_commands),
        web_domains=allow_patterns(config.web_allow_domains),
    )


def build_safety(
    config: SafetyConfig,
    *,
    inner: Toolset,
    approver: Approver,
    workdir: Path,
    user_home: Path,
    mnemo_home: Path,
    state_dir: Path,
    env: Mapping[str, str],
    read_only_hint: Callable[[str], bool | None] | None = None,
) -> Safety:
    """``read_only_hint``: what extension tools say of themselves (shown in questions)."""
    policy = build_policy(
        config, workdir=workdir, user_home=user_home, mnemo_home=mnemo_home, state_dir=state_dir
    )
    if read_only_hint is not None:
        policy.read_only_hint = read_only_hint
    paths, rules = policy.paths, policy.rules
    extra = list(paths.extra_allowed)
    checkpoints = CheckpointStore(state_dir / "checkpoints", workdir)
    redactor = Redactor(env)
    audit = AuditLog(state_dir / "audit.jsonl", redactor=redactor)
    guard = GuardedToolset(
        inner,
        approver,
        policy,
        previewers=default_previewers(),
        paths=paths,
        checkpoints=checkpoints,
        audit=audit,
        redactor=redactor,
        rules=rules,
    )
    confinement = Confinement(
        workdir=workdir,
        home=user_home,
        mnemo_home=mnemo_home,
        writable=tuple(extra),
        hidden=(*HIDDEN_HOME, *config.sandbox_hidden_paths),
        env_passthrough=frozenset(config.env_passthrough),
    )
    sandbox = ModalSandbox(policy, config, confinement)

    def allow_host(host: str) -> bool:
        """A redirect may go to a host the user would not be asked about."""
        return (
            policy.mode == "bypass"
            or domain_allowed(host, policy.web_domains)
            or session_key("web_fetch", host) in guard.session_allowed
        )

    transport = functools.partial(
        guarded_transport, allow_private=config.allow_private_network, allow_host=allow_host
    )
    return Safety(guard, policy, rules, paths, checkpoints, audit, sandbox, transport)
