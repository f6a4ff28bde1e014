"""The values the shell analysis works with and hands back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["allow", "ask", "deny"]

SEVERITY: dict[Action, int] = {"allow": 0, "ask": 1, "deny": 2}


@dataclass(frozen=True, slots=True)
class ShellVerdict:
    """What the analysis concluded about one command line.

    ``action``: ``allow`` = every part is known to be read-only; ``ask`` = something
    modifies state, runs code we cannot see, or could not be resolved; ``deny`` =
    catastrophic (fork bomb, ``curl | sh``, ``rm -rf ~`` ...). The caller maps this
    onto the permission mode.
    """

    action: Action
    reason: str  # one sentence naming the sub-command that decided
    rule: str  # short id of the rule that decided, e.g. "safe:git-status", "deny:rm-root"
    # Write targets as absolute, lexically normalised paths (relative ones resolved
    # against the cwd, following `cd` in compound commands); "?" when unresolvable.
    writes: tuple[str, ...] = ()
    # Every simple command found, argv joined; a wrapper (sudo, env, bash -c, xargs,
    # find -exec ...) is listed followed by the commands it runs.
    commands: tuple[str, ...] = ()
    # Files the read-only commands read, as far as their literal operands and `<`
    # redirections show (best effort: a pattern argument may appear too). For the
    # secrets check; unresolvable operands are left out, not "?".
    reads: tuple[str, ...] = ()
    # Some part talks to the network: a download or upload (curl, git push/fetch,
    # ssh, package installs ...), a `/dev/tcp` or `/dev/udp` redirection, or one of
    # those inside `$(...)`. The sandbox gives the command network only when True.
    network: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    action: Action
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Arg:
    """One shell word after expansion, as far as it can be known statically."""

    value: str | None  # None: depends on run time (variables, $(...), brace expansion)
    raw: str  # the source text
    glob: bool = False  # contains unquoted *, ? or [...]; value is then the pattern
    fetched: bool = False  # contains a $(...) / <(...) that downloads something

    @property
    def maybe_flag(self) -> bool:
        """Could this word turn into an option (``-x``) at run time?"""
        if self.value is None:
            return True
        return self.glob and self.value[:1] in "*?[-"

    @property
    def literal(self) -> str | None:
        """The value when it is one fixed word (no glob), else None."""
        return None if self.glob else self.value

    def show(self) -> str:
        return self.raw if self.value is None or self.glob else self.value


def literal(value: str) -> Arg:
    """An argument that is known exactly (e.g. built while unwrapping)."""
    return Arg(value, value)


UNKNOWN = Arg(None, "?")


def names(text: str) -> frozenset[str]:
    """A set of names written as one space-separated string (for long tables)."""
    return frozenset(text.split())
