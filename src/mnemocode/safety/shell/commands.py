"""Classify one simple command (argv after expansion): unwrap wrappers, then look
the name up — read-only tables, writers, git, interpreters, other known tools —
and fall back to asking for anything we do not know."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from mnemocode.safety.shell import interp, reads, tools, wrappers
from mnemocode.safety.shell.gitcmd import analyse_git
from mnemocode.safety.shell.options import parse_options
from mnemocode.safety.shell.state import (
    NOTHING,
    Analysis,
    Effects,
    Host,
    Inv,
    Shell,
    harmless_variable,
)
from mnemocode.safety.shell.verdict import Arg, names
from mnemocode.safety.shell.writes import WRITERS, mkfs

Handler = Callable[[Inv, Host], Effects]

# A command named by path runs like the bare name only from these folders;
# `./ls` or `/tmp/x/git` could be anything.
STANDARD_DIRS = names(
    "/bin /usr/bin /usr/local/bin /sbin /usr/sbin /usr/local/sbin /opt/homebrew/bin "
    "/run/current-system/sw/bin"
)


def display(argv: list[Arg]) -> str:
    parts = []
    for arg in argv:
        shown = arg.show()
        parts.append(shown if arg.value is None or arg.glob else shlex.quote(shown))
    return " ".join(parts)


def _cd(inv: Inv, host: Host) -> Effects:
    an, shell = host.an, inv.shell
    words = [a for a in inv.args if not (a.literal or "").startswith("-") or a.literal == "-"]
    if inv.name == "popd" or (words and words[0].literal == "-"):
        shell.cwd = None
    elif not words:
        shell.cwd = an.home_dir if inv.name == "cd" and "HOME" not in an.tainted else None
    else:
        target = words[0].literal
        shell.cwd = an.resolve(target, shell) if target else None
    an.allow(inv.display, f"safe:{inv.name}")
    return NOTHING


_NAME_VALUES = {"read": "adinNptu", "mapfile": "dnOsuCc", "readarray": "dnOsuCc", "printf": "v"}


def _names(inv: Inv, host: Host) -> Effects:
    """`read X`, `printf -v X`, `mapfile X`, `getopts s X`: they assign variables."""
    opts = parse_options(inv.args, short_values=_NAME_VALUES.get(inv.name, ""))
    names = [a.literal for a in opts.operands]
    if inv.name == "printf":
        names = [v.literal for v in opts.values("-v")]
    elif inv.name == "getopts":
        names = names[1:2]
    names += [v.literal for v in opts.values("-a")] if inv.name == "read" else []
    for name in names:
        if name is None or not harmless_variable(name, None):
            what = (
                f"sets the variable {name or '(unknown)'}, which can change what later commands run"
            )
            host.an.ask(inv.display, "env:assignment", what)
            return NOTHING
    host.an.allow(inv.display, f"safe:{inv.name}")
    return NOTHING


def _let(inv: Inv, host: Host) -> Effects:
    if any(a.value is None or "$(" in a.value or "`" in a.value for a in inv.args):
        host.an.ask(inv.display, "unknown:arithmetic", "evaluates arithmetic that can run commands")
    else:
        host.an.allow(inv.display, "safe:let")
    return NOTHING


_SET_OPTIONS = names("errexit nounset xtrace pipefail verbose noglob noclobber")


def _set(inv: Inv, host: Host) -> Effects:
    """`set -euo pipefail` and friends only; `set -- args` sets positional parameters."""
    words = [a.literal for a in inv.args]
    ok, i = True, 0
    while ok and i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        if word is None or word[:1] not in ("-", "+") or not set(word[1:]) <= set("euxvfCEhTBHo"):
            ok = False
        elif "o" in word:
            ok = i < len(words) and words[i] in _SET_OPTIONS
            i += 1
    if not words:
        host.an.ask(inv.display, "env:dump", "prints every variable, API keys included")
    elif ok:
        host.an.allow(inv.display, "safe:set")
    else:
        host.an.ask(inv.display, "env:set", "changes shell options")
    return NOTHING


BUILTINS: dict[str, Handler] = {
    **wrappers.HANDLERS,
    **interp.HANDLERS,
    "cd": _cd,
    "pushd": _cd,
    "popd": _cd,
    "read": _names,
    "printf": _names,
    "mapfile": _names,
    "readarray": _names,
    "getopts": _names,
    "let": _let,
    "set": _set,
}


# Their first operand is a pattern or a program, not a file.
_PATTERN_FIRST = frozenset(
    {"grep", "egrep", "fgrep", "zgrep", "rg", "ag", "sed", "awk", "gawk", "mawk", "nawk", "jq"}
)


# Short options that take a value, so that `head -n 5 f` reads f, not "5".
_READ_VALUES = {
    "head": "nc",
    "tail": "nc",
    "cut": "bcdf",
    "grep": "ABCDdefmX",
    "rg": "ABCEMTdefgjmrt",
    "sort": "kotST",
    "uniq": "fsw",
    "du": "dBt",
    "ls": "IwT",
    "od": "AjNtw",
    "nl": "bdfhilnsvw",
}


# They show names and sizes of what they are given, not its content.
_NAMES_ONLY = frozenset({"ls", "du", "stat", "tree", "realpath", "readlink", "df", "fd", "fdfind"})
_RECURSIVE = frozenset({"rg", "ag"})


def _record_reads(inv: Inv, an: Analysis) -> None:
    if inv.name in reads.NOT_FILES or inv.name in reads.OWN_READS:
        return
    short_values = _READ_VALUES.get(inv.name, "")
    opts = parse_options(inv.args, short_values=short_values)
    operands = opts.operands
    if inv.name in _PATTERN_FIRST and not any(a.literal in ("-e", "-f") for a in inv.args):
        operands = operands[1:]
    recursive = inv.name in _RECURSIVE or (
        "grep" in inv.name
        and (
            opts.has("--recursive", "--dereference-recursive")
            or bool({"r", "R"} & opts.short_chars())
        )
    )
    names = inv.name in _NAMES_ONLY
    for operand in operands:
        an.read(operand, inv.shell, inv.display, recursive=recursive, names=names)


def known_command(name: str) -> bool:
    """A name we classify on its own merits; a function that shadows it (perhaps only
    in a branch that does not run) is not trusted to replace it."""
    return (
        name in BUILTINS
        or name in reads.PLAIN
        or name in reads.CHECKED
        or name in WRITERS
        or name == "git"
        or name.startswith("mkfs")
        or interp.language_of(name) is not None
        or tools.known_tool(name)
        or any(name in group for group in tools.OTHER_GROUPS)
    )


class Commands:
    """Implements ``Host.classify``; ``run_script`` comes from the walker."""

    def __init__(self, an: Analysis, run_script: Callable[..., Effects]) -> None:
        self.an = an
        self._run_script = run_script

    def run_script(self, source: str, shell: Shell, *, dialect: str = "bash") -> Effects:
        result: Effects = self._run_script(source, shell, dialect=dialect)
        return result

    def classify(self, argv: list[Arg], shell: Shell) -> Effects:
        an = self.an
        shown = display(argv)
        an.commands.append(shown)
        name = argv[0].literal
        if name is None:
            an.ask(shown, "unknown:dynamic-command", "runs a command named only at run time")
            return NOTHING
        if an.zsh and any(a.glob or (a.literal or "").startswith("=") for a in argv):
            an.ask(shown, "unknown:zsh-expansion", "uses zsh globbing, which can run code")
        if "/" in name:
            folder, _, base = name.rpartition("/")
            if folder not in STANDARD_DIRS or not base:
                an.ask(shown, "exec:program-path", f"runs the program {name}")
                return NOTHING
            name = base
        if name in shell.functions and not known_command(name):
            if name in shell.cd_functions:
                shell.cwd = None
            an.allow(shown, "safe:function-call")
            return NOTHING
        inv = Inv(name, argv[1:], shown, shell)
        return self._dispatch(inv)

    def _dispatch(self, inv: Inv) -> Effects:
        an, name = self.an, inv.name
        words = [a.literal for a in inv.args]
        if tools.known_tool(name) and tools.is_version_query(name, words):
            an.allow(inv.display, "safe:version")
            return NOTHING
        handler = BUILTINS.get(name)
        if handler is not None:
            return handler(inv, self)
        if interp.language_of(name) is not None:
            return interp.interpreter(inv, self)
        if name in reads.PLAIN:
            an.allow(inv.display, f"safe:{name}")
            _record_reads(inv, an)
            return NOTHING
        checker = reads.CHECKED.get(name)
        if checker is not None:
            outcome = checker(inv, an)
            if outcome is None:
                an.allow(inv.display, f"safe:{name}")
                _record_reads(inv, an)
            else:
                an.ask(inv.display, *outcome)
            return NOTHING
        writer = WRITERS.get(name) or (mkfs if name.startswith("mkfs.") else None)
        if writer is not None:
            writer(inv, an)
            return NOTHING
        if name == "git":
            analyse_git(inv, an)
            return NOTHING
        return tools.classify_tool(inv, an)
