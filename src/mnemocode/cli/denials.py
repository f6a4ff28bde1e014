"""Refusals in a headless run: each one is said on stderr as it happens (text
mode) and listed in the JSON result, so a run whose every edit was refused does
not pass for a success. They are taken from the audit records the guard writes,
where every refusal is recorded whoever made it (policy, headless answer,
sandbox, URL guard)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from mnemocode.safety.audit import AuditEntry, AuditLog

_MAIN_ARGUMENT = ("command", "path", "url", "query", "pattern")


@dataclass(frozen=True, slots=True)
class Denial:
    tool: str
    target: str  # the command, path or URL
    reason: str  # what the model was told
    source: str  # policy, headless, user, sandbox, network, recheck

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"mnemo: refused {self.tool} {self.target}: {self.reason}"


def denial_of(entry: AuditEntry) -> Denial:
    target = next((str(entry.arguments[k]) for k in _MAIN_ARGUMENT if k in entry.arguments), "")
    if entry.tool == "apply_patch":
        target = "(patch)"
    return Denial(entry.tool, " ".join(target.split())[:200], entry.result or entry.reason,
                  entry.source)  # fmt: skip


class DenialTap(AuditLog):
    """The run's audit log, also handing every refusal (redacted) to ``seen``."""

    def __init__(self, inner: AuditLog, seen: Callable[[Denial], None]) -> None:
        super().__init__(inner.path, fsync=inner.fsync, redactor=inner.redactor)
        self.seen = seen

    def record(self, entry: AuditEntry) -> None:
        super().record(entry)
        if entry.outcome == "denied":
            self.seen(denial_of(self._clean(entry)))
