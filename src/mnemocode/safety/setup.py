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
from mnemocode.safety.guard import GuardedToolset
from mnemocode.safety.network import guarded_transport
from mnemocode.safety.paths import PathPolicy
from mnemocode.safety.policy import SafetyPolicy
from mnemocode.safety.previews import default_previewers
from mnemocode.safety.rules import RuleStore
from mnemocode.safety.sandbox import LocalSandbox
from mnemocode.safety.secrets import Redactor


class ModalSandbox:
    """Runs each command in the sandbox configured for the current mode."""

    def __init__(self, policy: SafetyPolicy, config: SafetyConfig, writable: list[Path]) -> None:
        self.policy, self.config = policy, config
        self.local = LocalSandbox()
        self._bwrap: BubblewrapSandbox | None = None
        self.writable = writable
        self.fallback_note = ""

    def current(self) -> LocalSandbox:
        kind = self.config.sandbox_auto if self.policy.mode == "auto" else self.config.sandbox_ask
        if kind == "bubblewrap":
            if bwrap_path() is None:
                self.fallback_note = "bubblewrap is not installed; using the local sandbox"
                return self.local
            if self._bwrap is None:
                self._bwrap = BubblewrapSandbox(
                    writable=self.writable, network=self.config.sandbox_network
                )
            return self._bwrap
        return self.local

    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult:
        return await self.current().run(spec, on_output)


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
    return SafetyPolicy(config.mode, paths, rules, user_home)


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
) -> Safety:
    policy = build_policy(
        config, workdir=workdir, user_home=user_home, mnemo_home=mnemo_home, state_dir=state_dir
    )
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
    sandbox = ModalSandbox(policy, config, [workdir, *extra])
    transport = functools.partial(guarded_transport, allow_private=config.allow_private_network)
    return Safety(guard, policy, rules, paths, checkpoints, audit, sandbox, transport)
