"""``allowed-tools``: an active skill pre-approves its tools — never more than
auto mode would run.

A call the policy would *ask* about runs without the question only when an active
skill lists the tool and the same policy in auto mode would run it (the work
directory, the sandbox, the whitelist): protected paths, catastrophic commands,
writes outside the work directory and anything auto mode refuses keep their
question or refusal. Claude Code's names are understood (``Bash`` is
``shell_exec``, ``Read`` is ``file_read``…), and ``Bash(git status:*)`` only
covers a single simple command starting with those words.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass

from mnemocode.core.protocols import ToolContext
from mnemocode.core.types import ToolCall, ToolSpec
from mnemocode.extensions.skills.activation import SkillSession
from mnemocode.extensions.skills.tool import TOOL_NAME
from mnemocode.safety.guard import Policy, Verdict
from mnemocode.safety.policy import SafetyPolicy

CLAUDE_NAMES = {
    "bash": "shell_exec",
    "read": "file_read",
    "write": "file_write",
    "edit": "file_edit",
    "multiedit": "file_edit",
    "glob": "glob",
    "grep": "grep",
    "webfetch": "web_fetch",
    "websearch": "web_search",
}
_SHELL_SYNTAX = set(";&|<>$`(){}\n\\*?[]~!")


def covers(entry: str, call: ToolCall) -> bool:
    """Whether one ``allowed-tools`` entry names this call."""
    name, _, rest = entry.partition("(")
    tool = CLAUDE_NAMES.get(name.strip().lower(), name.strip())
    if tool != call.name:
        return False
    if not rest:
        return True
    if tool != "shell_exec" or not rest.endswith(")"):
        return False  # a specifier we cannot check pre-approves nothing
    pattern = rest[:-1].strip()
    wildcard = pattern.endswith(":*") or pattern.endswith(" *")
    prefix = pattern[:-2].strip() if wildcard else pattern
    command = str(call.arguments.get("command", ""))
    if any(c in _SHELL_SYNTAX for c in command):
        return False
    try:
        words, wanted = shlex.split(command), shlex.split(prefix)
    except ValueError:
        return False
    return words[: len(wanted)] == wanted and (wildcard or len(words) == len(wanted))


@dataclass(slots=True)
class SkillPolicy:
    """The session's policy with the active skills' pre-approvals on top."""

    inner: Policy
    skills: SkillSession

    def decide(self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext) -> Verdict:
        if call.name == TOOL_NAME:
            return Verdict("allow", "loads a skill's instructions", "skill:load")
        verdict = self.inner.decide(call, spec, ctx)
        if verdict.action != "ask" or verdict.protected:
            return verdict
        for skill in self.skills.active_skills(ctx.turn):
            if any(covers(entry, call) for entry in skill.allowed_tools):
                return self._within_auto(call, spec, ctx, verdict, skill.name)
        return verdict

    def _within_auto(
        self, call: ToolCall, spec: ToolSpec | None, ctx: ToolContext, verdict: Verdict, name: str
    ) -> Verdict:
        if not isinstance(self.inner, SafetyPolicy):
            return verdict
        auto = dataclasses.replace(self.inner, mode="auto").decide(call, spec, ctx)
        if auto.action != "allow" or auto.protected:
            return verdict
        why = f"pre-approved by skill {name!r} (allowed-tools); {auto.reason}"
        return dataclasses.replace(auto, reason=why, rule=f"skill:{name}")
