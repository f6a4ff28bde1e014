"""Command-line options as GNU-style tools read them, for flag checks.

Unknown options never consume a value, so a dangerous flag cannot hide behind
one we mis-modelled; when in doubt the result has more flags, not fewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mnemocode.safety.shell.verdict import Arg, literal


@dataclass(slots=True)
class Options:
    flags: list[tuple[str, Arg | None]] = field(default_factory=list)
    operands: list[Arg] = field(default_factory=list)
    # An argument before `--` whose value is only known at run time (or a glob that
    # can expand to a name starting with "-") may itself be an option.
    dynamic: bool = False
    dashdash: bool = False  # a `--` ended the options

    def has(self, *names: str) -> bool:
        return any(_matches(flag, name) for flag, _ in self.flags for name in names)

    def value(self, *names: str) -> Arg | None:
        for flag, value in self.flags:
            if value is not None and any(_matches(flag, name) for name in names):
                return value
        return None

    def values(self, *names: str) -> list[Arg]:
        return [
            value
            for flag, value in self.flags
            if value is not None and any(_matches(flag, name) for name in names)
        ]

    def short_chars(self) -> set[str]:
        return {flag[1] for flag, _ in self.flags if len(flag) == 2 and flag[0] == "-"}


def _matches(flag: str, name: str) -> bool:
    if flag == name:
        return True
    # GNU getopt_long accepts any unambiguous prefix of a long option (--out = --output).
    return (
        name.startswith("--") and flag.startswith("--") and len(flag) > 3 and name.startswith(flag)
    )


def parse_options(
    args: Iterable[Arg],
    *,
    short_values: str = "",
    short_optional: str = "",
    long_values: Iterable[str] = (),
    stop_at_operand: bool = False,
) -> Options:
    """Split ``args`` into flags and operands.

    ``short_values``: short options that take a value (attached or the next word);
    ``short_optional``: ones that take a value only when attached (``-i.bak``);
    ``long_values``: long options whose value may be the next word;
    ``stop_at_operand``: everything after the first operand is an operand (POSIX,
    and wrappers such as ``sudo`` or ``nice`` whose operands are a command).
    """
    out = Options()
    longs = frozenset(long_values)
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        value = arg.literal
        i += 1
        if value == "--":
            out.dashdash = True
            out.operands += items[i:]
            break
        if arg.maybe_flag:
            out.dynamic = True
        if value is None or not value.startswith("-") or value == "-":
            out.operands.append(arg)
            if stop_at_operand:
                out.operands += items[i:]
                break
            continue
        if value.startswith("--"):
            name, eq, attached = value.partition("=")
            if eq:
                out.flags.append((name, literal(attached)))
            elif name in longs and i < len(items):
                out.flags.append((name, items[i]))
                i += 1
            else:
                out.flags.append((name, None))
            continue
        i = _cluster(value[1:], items, i, out, (short_values, short_optional))
    return out


def _cluster(body: str, items: list[Arg], i: int, out: Options, spec: tuple[str, str]) -> int:
    """Read ``-abc`` (``spec``: options with a value, options with an attached one)."""
    values, optional = spec
    for j, char in enumerate(body):
        rest = body[j + 1 :]
        if char in values:
            if rest:
                out.flags.append(("-" + char, literal(rest)))
            elif i < len(items):
                out.flags.append(("-" + char, items[i]))
                i += 1
            else:
                out.flags.append(("-" + char, None))
            return i
        if char in optional:
            out.flags.append(("-" + char, literal(rest) if rest else None))
            return i
        out.flags.append(("-" + char, None))
    return i
