"""The safety policy: one decision — allow, ask or deny — for every tool call.

The sandbox is the guarantee; the policy is the second line that decides what to
ask about. It combines the shell analysis, the path zones, the user's rules and
the mode:

- ask (default): read-only commands and reads run without a question — commands
  inside the sandbox (``confinement.py``) where one is available; anything that
  changes something asks. An approved command still runs in the sandbox, with the
  network when it needs it; one that writes outside the work directory or into a
  protected path runs outside it (the question says so).
- auto: never asks. With the sandbox: read-only and whitelisted commands (checked
  flags, ``rules.py``) run inside it, without network (but for
  ``auto_network_commands``); writes by the file tools inside the work directory
  run; everything else is refused with a reason the model can act on. Without a
  sandbox only read-only commands run.
- bypass: everything runs, unconfined — except writes to protected paths, which
  still ask.

Catastrophic commands are denied in every mode but bypass, and so is a command
whose directory is outside the work directory. Protected paths are never written
without an explicit prompt, in every mode (so auto refuses them).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolSpec
from mnemocode.safety.domains import (
    DEFAULT_WEB_ALLOW_DOMAINS,
    DomainError,
    domain_allowed,
    domain_of,
)
from mnemocode.safety.guard import FILE_WRITERS, Verdict
from mnemocode.safety.paths import PathPolicy, PathVerdict
from mnemocode.safety.rules import MCP_PREFIX, RuleStore
from mnemocode.safety.shell import ShellVerdict, analyse_command
from mnemocode.tools.apply_patch import TOOL_NAME as PATCH_TOOL
from mnemocode.tools.apply_patch import PatchError, patch_paths

Mode = Literal["ask", "auto", "bypass"]

# Built-in tools whose read-only mark we trust; MCP and custom tools ask unless a
# rule allows them, whatever they claim about themselves.
TRUSTED_READERS = {
    "file_read", "glob", "grep", "web_fetch", "web_search", "memory_search", "code_map",
}  # fmt: skip


@dataclass(slots=True)
class SafetyPolicy:
    mode: Mode
    paths: PathPolicy
    rules: RuleStore
    home: Path
    extra: dict[str, str] = field(default_factory=dict)
    # The modes whose shell commands run inside a confining sandbox.
    confined_modes: frozenset[str] = frozenset()
    # auto mode: commands that run with the network (see ``_listed``).
    auto_network: tuple[str, ...] = ()
    # Hosts web_fetch reaches without a question (``domains.py`` patterns).
    web_domains: tuple[str, ...] = DEFAULT_WEB_ALLOW_DOMAINS
    # What an extension tool says of itself (MCP ``readOnlyHint``), shown in the
    # question; the MCP toolset supplies it.
    read_only_hint: Callable[[str], bool | None] = lambda _name: None

    @property
    def confined(self) -> bool:
        """Whether commands in the current mode run inside the sandbox."""
        return self.mode in self.confined_modes

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        if call.name == "shell_exec":
            return self._shell(call, ctx)
        if call.name == PATCH_TOOL:
            return self._patch(call, ctx)
        if call.name in FILE_WRITERS:
            return self._write(call.name, str(call.arguments.get("path", "")), ctx)
        if call.name in TRUSTED_READERS:
            return self._read(call, ctx)
        return self._other(call, spec)

    # ---- shell ---------------------------------------------------------------------

    def _shell(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        command = str(call.arguments.get("command", ""))
        cwd = _cwd(call, ctx)
        shell = analyse_command(command, cwd=cwd, home=self.home, workdir=self.paths.workdir)
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
                    confined=False,
                )
            return Verdict(
                "allow",
                "safety checks are off for this session",
                "mode:bypass",
                shell=shell,
                confined=False,
            )
        if not self._inside(cwd):
            reason = f"its directory {cwd} is outside the work directory"
            return Verdict("deny", reason, "cwd:outside", shell=shell)
        if shell.action == "deny":
            return Verdict("deny", shell.reason, shell.rule, shell=shell)
        if protected:
            return self._ask_or_refuse(
                f"it writes the protected path {protected[0]}",
                "protected",
                shell,
                True,
                confined=False,
            )
        secrets = [
            r for r in shell.reads if self.paths.check(r, write=False, cwd=cwd).zone == "secret"
        ]
        if secrets:
            return self._ask_or_refuse(
                f"it reads the secret file {secrets[0]}", "secret-read", shell
            )
        network = bool(getattr(shell, "network", False))
        confined = self.confined
        outside = [w for w in shell.writes if w != "?" and not self._inside(Path(w))]
        if shell.action == "allow" and not network:
            return Verdict("allow", shell.reason, shell.rule, shell=shell, confined=confined)
        argvs = [_argv(c) for c in shell.commands]
        rule = self.rules.match_command(argvs, cwd)
        if rule is not None:
            return Verdict(
                "allow",
                f"allowed by your rule: {rule.describe()}",
                "rule",
                shell=shell,
                network=network,
                confined=confined and not outside,
            )
        if self.mode == "auto":
            return self._auto_shell(shell, argvs, cwd, network=network, outside=outside)
        reason = shell.reason
        if shell.action == "allow":
            reason = "it uses the network"
        if confined and outside:
            reason += f" (it writes {outside[0]}: approved, it runs outside the sandbox)"
        elif confined:
            reason += " (approved, it runs in the sandbox, with the network for this run)"
        return Verdict(
            "ask",
            reason,
            shell.rule,
            shell=shell,
            network=network,
            confined=confined and not outside,
        )

    def _auto_shell(
        self,
        shell: ShellVerdict,
        argvs: list[list[str]],
        cwd: Path,
        *,
        network: bool,
        outside: list[str],
    ) -> Verdict:
        def refuse(reason: str, rule: str) -> Verdict:
            return Verdict("deny", f"auto mode does not ask, and {reason}", rule, shell=shell)

        if not self.confined:
            return refuse(
                f"{_lower(shell.reason)}; without a sandbox (bubblewrap) auto mode runs "
                "only read-only commands",
                "auto:no-sandbox",
            )
        if outside:
            return refuse(f"it writes {outside[0]}, outside the work directory", "auto:outside")
        listed = network and _listed(self.auto_network, argvs)
        if network and not listed:
            return refuse(
                "it uses the network, which auto mode gives only to the commands in "
                "[safety] auto_network_commands",
                "auto:network",
            )
        if (
            listed
            or shell.action == "allow"
            or self.rules.whitelisted(
                argvs, workdir=self.paths.workdir, cwd=cwd, decided_by=shell.rule
            )
        ):
            why = "runs inside the sandbox" + (" with the network" if network else "")
            return Verdict("allow", why, "auto:sandboxed", shell=shell, network=network)
        return refuse(_lower(shell.reason), f"auto:{shell.rule}")

    # ---- files ---------------------------------------------------------------------

    def _write(self, tool: str, raw: str, ctx: ToolContext) -> Verdict:
        checked = self.paths.check(raw, write=True, cwd=ctx.cwd)
        if checked.zone == "protected":
            return self._ask_or_refuse(checked.reason, checked.rule, path=checked, protected=True)
        if self.mode == "bypass":
            return Verdict(
                "allow", "safety checks are off for this session", "mode:bypass", path=checked
            )
        rule = self.rules.match_path(tool, checked.resolved, self.paths.workdir)
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

    def _patch(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        """apply_patch writes every file its envelope names: each is decided as a
        write, and the strictest verdict stands, carrying every target (the guard
        re-checks and backs up each)."""
        try:
            paths = patch_paths(str(call.arguments.get("input", "")))
        except PatchError:
            # The tool parses the same text the same way: it fails, writing nothing.
            return Verdict("allow", "the patch does not parse; nothing is written", "patch:invalid")
        verdicts = [self._write(call.name, raw, ctx) for raw in paths]
        strictest = max(verdicts, key=_severity)
        targets = tuple(v.path for v in verdicts if v.path is not None)
        return dataclasses.replace(strictest, targets=targets)

    def _web(self, call: ToolCall) -> Verdict:
        """web_fetch asks for each new domain (auto mode fetches only allow-listed
        ones): a URL carries data out in its path and query. web_search asks once
        in ask mode (the query goes to the search engine) and runs in auto mode."""
        if self.mode == "bypass":
            return Verdict("allow", "safety checks are off for this session", "mode:bypass")
        if call.name == "web_search":
            if self.mode == "auto":
                return Verdict("allow", "a search", "web:search")
            return Verdict("ask", "it sends this query to the search engine", "web:search")
        try:
            host = domain_of(str(call.arguments.get("url", "")))
        except DomainError as exc:
            return Verdict("deny", str(exc), "web:bad-url")
        if domain_allowed(host, self.web_domains):
            return Verdict("allow", f"{host} is on the web allow-list", "web:allow-listed")
        return self._ask_or_refuse(
            f"it fetches from {host}, which is not on the web allow-list "
            "([safety] web_allow_domains)",
            "web:domain",
        )

    def _read(self, call: ToolCall, ctx: ToolContext) -> Verdict:
        if call.name in {"web_fetch", "web_search"}:
            return self._web(call)
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
        """An MCP or custom tool (a name no toolset has never gets here: the guard
        answers it with the list of tools there are). An MCP tool runs without a
        question only by a rule, or when its server marks it read-only and the
        user trusts that server's hints (the toolset then marks the spec)."""
        if self.mode == "bypass":
            return Verdict("allow", "safety checks are off for this session", "mode:bypass")
        if call.name.startswith(MCP_PREFIX):
            return self._mcp(call, spec)
        raw = call.arguments.get("path")
        if isinstance(raw, str) and raw:
            rule = self.rules.match_path(call.name, Path(raw), self.paths.workdir)
            if rule is not None:
                return Verdict("allow", f"allowed by your rule: {rule.describe()}", "rule")
        return self._ask_or_refuse(
            f"{call.name} is an extension tool with no rule allowing it", "ext:ask"
        )

    def _mcp(self, call: ToolCall, spec: ToolSpec | None) -> Verdict:
        server = call.name[len(MCP_PREFIX) :].partition("__")[0]
        rule = self.rules.match_tool(call.name)
        if rule is not None:
            return Verdict("allow", f"allowed by your rule: {rule.describe()}", "rule")
        if spec is not None and spec.read_only:
            why = f"MCP server {server!r} marks it read-only, and you trust its hints"
            return Verdict("allow", why, "mcp:read-only-hint")
        reason = f"{call.name} is a tool of MCP server {server!r} with no rule allowing it"
        if self.read_only_hint(call.name):
            reason += (
                " (the server marks it read-only: not trusted unless you set"
                f" trust_read_only_hints = true in [mcp.servers.{server}])"
            )
        return self._ask_or_refuse(reason, "mcp:ask")

    # ---- helpers -------------------------------------------------------------------

    def _ask_or_refuse(
        self,
        reason: str,
        rule: str,
        shell: ShellVerdict | None = None,
        protected: bool = False,
        path: PathVerdict | None = None,
        *,
        confined: bool = True,
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
        return Verdict(
            "ask", reason, rule, path, shell, protected, confined=confined and self.confined
        )

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


def _listed(entries: tuple[str, ...], argvs: list[list[str]]) -> bool:
    """Every simple command is one of ``entries``: the same words, or the words
    before a trailing ``*`` followed by anything."""

    def one(argv: list[str]) -> bool:
        for entry in entries:
            words = _argv(entry)
            if words[-1:] == ["*"]:
                if argv[: len(words) - 1] == words[:-1]:
                    return True
            elif argv == words:
                return True
        return False

    return bool(argvs) and all(one(argv) for argv in argvs)


def _severity(verdict: Verdict) -> tuple[int, bool]:
    return {"allow": 0, "ask": 1, "deny": 2}[verdict.action], verdict.protected


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
