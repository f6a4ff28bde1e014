"""The append-only audit log: one JSON line per safety decision.

Each record is written with a single ``os.write`` on a descriptor opened with
``O_APPEND``, so the kernel appends it whole: records of concurrent writers (two
terminals, a worker) never interleave. A record that was cut short (the process
killed mid-write) is skipped when reading and never spoils the records after it:
a writer that finds the file not ending in a newline starts its record on a new
line (it holds an advisory ``flock`` while it looks and writes, so another
writer's append in progress is not mistaken for a torn record). Secrets are
redacted from arguments, reason and result before anything is written; long
argument strings are capped.

``query`` reads the whole file; rotation is left to the caller (one log per
project under ``~/.mnemo/projects/<name>/``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

from mnemocode.safety.secrets import Redactor, default_redactor

Decision = Literal["allow", "ask", "deny"]
Outcome = Literal["approved", "denied"]

_DECISIONS = frozenset(get_args(Decision))
_OUTCOMES = frozenset(get_args(Outcome))
RESULT_CHARS = 200
_FIELDS = ("time", "session", "turn", "tool", "arguments", "decision", "outcome", "decided_by")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One decision. ``decision`` is what the policy said (allow / ask / deny);
    ``outcome`` whether the call went ahead: allow → approved, deny → denied, ask →
    whatever the user answered, and denied when a check inside the tool refused it
    (the URL guard, the sandbox). ``decided_by`` is the rule id (``path:protected``,
    ``auto:workdir``…) or who answered. ``source`` says who made the final call:
    ``policy``, ``user``, ``headless`` (a headless run's standing answer),
    ``network`` (the URL guard), ``sandbox`` or ``recheck`` (the target moved)."""

    session: str
    turn: int
    tool: str
    arguments: dict[str, Any]
    decision: Decision
    outcome: Outcome
    decided_by: str
    reason: str = ""
    result: str = ""  # a one-line summary of what the call returned
    checkpoint: str | None = None
    time: str = field(default_factory=utc_now)  # UTC, ISO 8601
    source: str = ""  # older records have none

    @classmethod
    def now(
        cls,
        *,
        session: str,
        turn: int,
        tool: str,
        arguments: dict[str, Any],
        decision: str,
        outcome: str,
        decided_by: str,
        source: str = "",
        reason: str = "",
        result: str = "",
        checkpoint: str | None = None,
    ) -> AuditEntry:
        """An entry stamped with the current time; ``decision`` and ``outcome`` are
        checked here so a caller holding plain strings gets an error, not a bad log."""
        if decision not in _DECISIONS or outcome not in _OUTCOMES:
            raise ValueError(f"bad audit decision/outcome: {decision!r}/{outcome!r}")
        return cls(
            session=session,
            turn=turn,
            tool=tool,
            arguments=arguments,
            decision=cast(Decision, decision),
            outcome=cast(Outcome, outcome),
            decided_by=decided_by,
            reason=reason,
            result=result,
            checkpoint=checkpoint,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"time": data.pop("time"), **data}  # "time" first: see _parse_line

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)

    def one_line(self, width: int = 80) -> str:
        """``2025-05-01 12:00:00  turn 3  shell_exec  ask/approved by user  ls -la``"""
        stamp = self.when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        target = self.arguments.get("command") or self.arguments.get("path")
        if not isinstance(target, str):
            target = json.dumps(self.arguments, ensure_ascii=False, default=str)
        target = " ".join(target.split())
        if len(target) > width:
            target = target[: width - 1] + "…"
        line = f"{stamp}  turn {self.turn}  {self.tool}  {self.decision}/{self.outcome}"
        line += f" by {self.decided_by}"
        if self.outcome == "denied" and self.source:
            line += f" [{self.source}]"
        line += f"  {target}"
        return line + (f"  [checkpoint {self.checkpoint}]" if self.checkpoint else "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in _FIELDS:
            if name not in values:
                raise ValueError(f"audit record without {name!r}")
        if not isinstance(values["turn"], int) or not isinstance(values.get("arguments"), dict):
            raise ValueError("malformed audit record")
        _aware(datetime.fromisoformat(values["time"]))  # raises on a bad time
        return cls(**values)

    @property
    def when(self) -> datetime:
        return _aware(datetime.fromisoformat(self.time))


def summarize_result(text: str, limit: int = RESULT_CHARS) -> str:
    """The first non-empty line, capped at ``limit`` characters."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_line(raw: bytes) -> AuditEntry | None:
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    for start in (0, text.rfind('{"time":')):  # a torn record glued to a whole one
        if start < 0:
            continue
        try:
            data = json.loads(text[start:])
            if isinstance(data, dict):
                return AuditEntry.from_dict(data)
        except (ValueError, TypeError):
            continue
    return None


class AuditLog:
    def __init__(
        self, path: Path, *, fsync: bool = False, redactor: Redactor | None = None
    ) -> None:
        self.path = path
        self.fsync = fsync
        self._redactor = redactor

    @property
    def redactor(self) -> Redactor:
        return self._redactor or default_redactor()

    def _clean(self, entry: AuditEntry) -> AuditEntry:
        redactor = self.redactor
        return AuditEntry(
            session=entry.session,
            turn=entry.turn,
            tool=entry.tool,
            arguments=redactor.redact_args(entry.arguments),
            decision=entry.decision,
            outcome=entry.outcome,
            decided_by=entry.decided_by,
            reason=redactor.redact(entry.reason),
            result=summarize_result(redactor.redact(entry.result)),
            checkpoint=entry.checkpoint,
            time=entry.time,
            source=entry.source,
        )

    def record(self, entry: AuditEntry) -> None:
        """Append one record (redacted) in a single write."""
        line = (self._clean(entry).to_json() + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC  # read: the last byte
        fd = os.open(self.path, flags, 0o600)
        try:
            # The lock only makes the torn-record check exact (a concurrent append
            # in progress looks torn); the single O_APPEND write alone keeps
            # records whole, even against a writer that does not lock.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _ends_torn(fd):
                line = b"\n" + line
            written = os.write(fd, line)
            while written < len(line):  # only on a full disk or a signal; rare
                written += os.write(fd, line[written:])
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> Iterator[AuditEntry]:
        """Every readable record, oldest first; torn or foreign lines are skipped."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            for raw in handle:
                entry = _parse_line(raw)
                if entry is not None:
                    yield entry

    def query(
        self,
        *,
        session: str | None = None,
        tool: str | None = None,
        decision: str | None = None,
        outcome: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Matching records, oldest first; with ``limit``, the most recent ``limit``.
        ``decision`` matches either field: "ask", "deny", "approved", "denied"…;
        ``outcome`` only the outcome ("denied": every refusal, whoever made it).
        A naive ``since`` is taken as UTC."""
        after = _aware(since) if since is not None else None
        found: deque[AuditEntry] = deque(maxlen=limit if limit is not None else None)
        if limit == 0:
            return []
        for entry in self.entries():
            if session is not None and entry.session != session:
                continue
            if tool is not None and entry.tool != tool:
                continue
            if decision is not None and decision not in {entry.decision, entry.outcome}:
                continue
            if outcome is not None and entry.outcome != outcome:
                continue
            if source is not None and entry.source != source:
                continue
            if after is not None and entry.when < after:
                continue
            found.append(entry)
        return list(found)


def _ends_torn(fd: int) -> bool:
    """Whether the file's last byte is not a newline (a record was cut short)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
