"""The safety policy: one decision — allow, ask or deny — for every tool call.

It combines the shell analysis, the path zones, the user's rules and the mode:

- ask (default): safe reads run; anything that changes something asks.
- auto: never asks. Known-safe or whitelisted commands run; writes inside the
  work directory (and extra allowed paths) run; everything else is refused with
  a reason the model can act on.
- bypass: everything runs — except writes to protected paths, which still ask.

Catastrophic commands are denied in every mode but bypass. Protected paths are
never written without an explicit prompt, in every mode (so auto refuses them).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolSpec
from mnemocode.safety.guard import FILE_WRITERS, Verdict
from mnemocode.safety.paths import PathPolicy, PathVerdict
from mnemocode.safety.rules import RuleStore
from mnemocode.safety.shell import ShellVerdict, analyse_command

Mode = Literal["ask", "auto", "bypass"]

# Built-in tools whose read-only mark we trust; MCP and custom tools ask unless a
# rule allows them, whatever they claim about themselves.
TRUSTED_READERS = {"file_read", "glob", "grep", "web_fetch", "web_search", "memory_search"}


@dataclass(slots=True)
class SafetyPolicy:
    mode: Mode
    paths: PathPolicy
    rules: RuleStore
    home: Path
    extra: dict[str, str] = field(default_factory=dict)

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        if call.name == "shell_exec":
            return self._shell(call, ctx)
        if call.name in FILE_WRITERS:
            return self._write(call, ctx)
        if call.name in TRUSTED_READERS:
            return self._read(call, ctx)
        return self._other(call, spec)

    # ---- shell ---------------------------------------------------------------------

    def _shell(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        command = str(call.arguments.get("command", ""))
        cwd = _cwd(call, ctx)
        shell = analyse_command(command, cwd=cwd, home=self.home)
        protected = [
            w
            for w in shell.writes
            if w != "?" and self.paths.check(w, write=True).zone == "protected"
        ]
        if self.mode == "bypass":
            if protected:
                return Verdict(
                    "ask",
                    f"writes protected path {protected[0]}",
                    "protected",
                    shell=shell,
                    protected=True,
                )
            return Verdict(
                "allow", "safety checks are off for this session", "mode:bypass", shell=shell
            )
        if shell.action == "deny":
            return Verdict("deny", shell.reason, shell.rule, shell=shell)
        if protected:
            return self._ask_or_refuse(
                f"it writes the protected path {protected[0]}", "protected", shell, True
            )
        secrets = [
            r for r in shell.reads if self.paths.check(r, write=False, cwd=cwd).zone == "secret"
        ]
        if secrets:
            return self._ask_or_refuse(
                f"it reads the secret file {secrets[0]}", "secret-read", shell
            )
        if shell.action == "allow":
            return Verdict("allow", shell.reason, shell.rule, shell=shell)
        argvs = [_argv(c) for c in shell.commands]
        rule = self.rules.match_command(argvs, cwd)
        if rule is not None:
            return Verdict("allow", f"allowed by your rule: {rule.describe()}", "rule", shell=shell)
        if self.mode == "auto":
            outside = [w for w in shell.writes if w == "?" or not self._inside(Path(w))]
            if self.rules.whitelisted(argvs) and not outside:
                return Verdict("allow", "on the auto-mode whitelist", "auto:whitelist", shell=shell)
        return self._ask_or_refuse(shell.reason, shell.rule, shell)

    # ---- files ---------------------------------------------------------------------

    def _write(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        raw = str(call.arguments.get("path", ""))
        checked = self.paths.check(raw, write=True, cwd=ctx.cwd)
        if checked.zone == "protected":
            return self._ask_or_refuse(checked.reason, checked.rule, path=checked, protected=True)
        if self.mode == "bypass":
            return Verdict(
                "allow", "safety checks are off for this session", "mode:bypass", path=checked
            )
        rule = self.rules.match_path(call.name, checked.resolved, self.paths.workdir)
        if rule is not None:
            return Verdict(
                "allow", f"allowed by your rule: {rule.describe()}", "rule", path=checked
            )
        if checked.zone in {"workdir", "allowed"}:
            if self.mode == "auto":
                return Verdict(
                    "allow", "a write inside the work directory", "auto:workdir", path=checked
                )
            return Verdict("ask", "it changes a file", "ask:write", path=checked)
        return self._ask_or_refuse(checked.reason, checked.rule, path=checked)

    def _read(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        raw = call.arguments.get("path")
        if isinstance(raw, str) and raw and self.mode != "bypass":
            checked = self.paths.check(raw, write=False, cwd=ctx.cwd)
            if checked.action != "allow":
                rule = self.rules.match_path(call.name, checked.resolved, self.paths.workdir)
                if rule is not None:
                    return Verdict(
                        "allow", f"allowed by your rule: {rule.describe()}", "rule", path=checked
                    )
                return self._ask_or_refuse(checked.reason, checked.rule, path=checked)
        return Verdict("allow", "read-only tool", f"read:{call.name}")

    def _other(self, call: ToolCall, spec: ToolSpec | None) -> Verdict:
        if self.mode == "bypass":
            return Verdict("allow", "safety checks are off for this session", "mode:bypass")
        raw = call.arguments.get("path")
        if isinstance(raw, str) and raw:
            rule = self.rules.match_path(call.name, Path(raw), self.paths.workdir)
            if rule is not None:
                return Verdict("allow", f"allowed by your rule: {rule.describe()}", "rule")
        kind = "an extension tool" if spec is not None else "an unknown tool"
        return self._ask_or_refuse(f"{call.name} is {kind} with no rule allowing it", "ext:ask")

    # ---- helpers -------------------------------------------------------------------

    def _ask_or_refuse(
        self,
        reason: str,
        rule: str,
        shell: ShellVerdict | None = None,
        protected: bool = False,
        path: PathVerdict | None = None,
    ) -> Verdict:
        if self.mode == "auto":
            return Verdict(
                "deny",
                f"auto mode does not ask, and {_lower(reason)}",
                f"auto:{rule}",
                path,
                shell,
                protected,
            )
        return Verdict("ask", reason, rule, path, shell, protected)

    def _inside(self, path: Path) -> bool:
        return self.paths.check(path, write=True).zone in {"workdir", "allowed"}


def _cwd(call: ToolCall, ctx: ToolContext) -> Path:
    raw = call.arguments.get("cwd")
    if isinstance(raw, str) and raw:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else ctx.cwd / path
    return ctx.cwd


def _argv(command: str) -> list[str]:
    """The words of one simple command as the analysis lists it (shell-quoted)."""
    try:
        return shlex.split(command)
    except ValueError:
        return [command]


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
