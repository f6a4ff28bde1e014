"""Commands that run code given as text: shells (`bash -c`), `eval`, `source`,
`trap`, and language interpreters (`python -c`, `perl -e`, `node -e` ...).

Shell code is parsed and analysed like the outer command; code in any other
language asks (we name the system call we saw, if any), and code that comes from
a download is denied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnemocode.safety.shell.options import parse_options
from mnemocode.safety.shell.state import NOTHING, Effects, Host, Inv
from mnemocode.safety.shell.verdict import Arg, names

SHELLS = names("sh bash zsh dash ksh mksh ash yash rbash")
OPAQUE_SHELLS = names("fish csh tcsh pwsh powershell xonsh nu elvish rc")
STDIN_PATHS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
_CALLS = re.compile(
    r"os\.system|os\.popen|subprocess|os\.exec\w*|os\.spawn\w*|os\.(remove|unlink|rmdir|rename)"
    r"|shutil\.\w+|child_process|execSync|spawnSync|unlinkSync|rmSync|writeFileSync"
    r"|\bsystem\s*\(|\bexec\s*\(|\bunlink\b|\bopen\s*\(|`"
)
_DOWNLOADED = "runs code downloaded from the network"


def _deny_download(inv: Inv, host: Host) -> Effects:
    host.an.deny(inv.display, "deny:pipe-to-shell", _DOWNLOADED)
    return NOTHING


def _shell_options(args: list[Arg]) -> tuple[int, str] | str:
    """Where the operands start and the mode ("c", "s" or ""); or why we must ask."""
    mode = ""
    i = 0
    while i < len(args):
        value = args[i].literal
        if value is None:
            if mode == "c" or args[i].fetched:
                break  # the script itself (judged by the caller)
            return "has an option known only at run time"
        if value in ("-", "--"):
            return i + 1, mode
        if value in ("-o", "+o", "-O", "+O"):
            i += 2
        elif value in ("--rcfile", "--init-file"):
            return f"runs the start-up file given to {value}"
        elif value[:1] in "-+" and len(value) > 1:
            if value[0] == "-" and value[1] != "-" and "c" in value:
                mode = "c"
            elif value[1] != "-" and "s" in value and not mode:
                mode = "s"
            i += 1
        else:
            break
    return i, mode


def shell(inv: Inv, host: Host) -> Effects:
    an = host.an
    if inv.name in OPAQUE_SHELLS:
        an.ask(inv.display, "exec:shell", f"runs {inv.name} code, which is not analysed")
        return Effects(runs_stdin=not inv.args)
    parsed = _shell_options(inv.args)
    if isinstance(parsed, str):
        an.ask(inv.display, "unknown:shell-option", parsed)
        return NOTHING
    start, mode = parsed
    rest = inv.args[start:]
    if mode == "c":
        if not rest:
            an.ask(inv.display, "unknown:syntax", "has -c without a script")
            return NOTHING
        if rest[0].fetched:
            return _deny_download(inv, host)
        script = rest[0].literal
        if script is None:
            an.ask(inv.display, "unknown:dynamic-script", "runs a script known only at run time")
            return NOTHING
        dialect = "zsh" if inv.name == "zsh" else "bash"
        return host.run_script(script, inv.shell.process(), dialect=dialect)
    if mode == "s" or not rest or rest[0].literal in STDIN_PATHS:
        an.ask(inv.display, "exec:shell-stdin", "runs a script read from standard input")
        return Effects(runs_stdin=True)
    if rest[0].fetched:
        return _deny_download(inv, host)
    an.ask(inv.display, "exec:script", f"runs the script {rest[0].show()}")
    return NOTHING


def eval_(inv: Inv, host: Host) -> Effects:
    if any(a.fetched for a in inv.args):
        return _deny_download(inv, host)
    words = [a.literal for a in inv.args]
    if any(w is None for w in words):
        host.an.ask(inv.display, "unknown:dynamic-script", "evaluates code known only at run time")
        return NOTHING
    return host.run_script(" ".join(w or "" for w in words), inv.shell)


def source(inv: Inv, host: Host) -> Effects:
    target = inv.args[0] if inv.args else None
    if target is not None and target.fetched:
        return _deny_download(inv, host)
    inv.shell.cwd = None  # the sourced script may cd anywhere
    if target is not None and target.literal in STDIN_PATHS:
        host.an.ask(inv.display, "exec:shell-stdin", "runs a script read from standard input")
        return Effects(runs_stdin=True)
    shown = target.show() if target is not None else "a script"
    host.an.ask(inv.display, "exec:source", f"runs {shown} in the current shell")
    return NOTHING


def trap(inv: Inv, host: Host) -> Effects:
    first = inv.args[0].literal if inv.args else "-l"
    if first in ("-l", "-p", "-", "") or (len(inv.args) == 1 and first is not None):
        host.an.allow(inv.display, "safe:trap")
        return NOTHING
    if first is None:
        host.an.ask(inv.display, "unknown:dynamic-script", "sets a trap known only at run time")
        return NOTHING
    return host.run_script(first, inv.shell.copy())


def alias(inv: Inv, host: Host) -> Effects:
    if any("=" in (a.value or "=") for a in inv.args):
        host.an.ask(
            inv.display, "exec:alias", "defines an alias, which changes what later commands run"
        )
    else:
        host.an.allow(inv.display, "safe:alias")
    return NOTHING


# ---- other languages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Language:
    label: str
    code: tuple[str, ...]  # options whose value is program text
    short_values: str  # short options that take a value (code options included)
    module: tuple[str, ...] = ()


_PYTHON = Language("Python", ("-c",), "cmWXQ", ("-m",))
LANGUAGES: dict[str, Language] = {
    "python": _PYTHON,
    "node": Language("JavaScript", ("-e", "--eval", "-p", "--print"), "epr"),
    "nodejs": Language("JavaScript", ("-e", "--eval", "-p", "--print"), "epr"),
    "ruby": Language("Ruby", ("-e",), "eIrCEF"),
    "php": Language("PHP", ("-r",), "rdcf"),
    "lua": Language("Lua", ("-e",), "el"),
    "Rscript": Language("R", ("-e",), "e"),
    "osascript": Language("AppleScript", ("-e",), "e"),
}


def language_of(name: str) -> Language | None:
    if re.fullmatch(r"(python|pypy)(\d+(\.\d+)?)?", name):
        return _PYTHON
    return LANGUAGES.get(name)


def interpreter(inv: Inv, host: Host) -> Effects:
    lang = language_of(inv.name)
    assert lang is not None
    an = host.an
    opts = parse_options(inv.args, short_values=lang.short_values, stop_at_operand=True)
    code = opts.value(*lang.code)
    if code is not None:
        if code.fetched:
            return _deny_download(inv, host)
        calls = _CALLS.search(code.value or "")
        hint = f" that calls {calls.group(0).rstrip('(').strip()}" if calls else ""
        an.ask(inv.display, f"exec:{inv.name}", f"runs {lang.label} code{hint}")
        return NOTHING
    module = opts.value(*lang.module) if lang.module else None
    if module is not None:
        an.ask(inv.display, f"exec:{inv.name}-module", f"runs the module {module.show()}")
        return NOTHING
    return _script_or_stdin(inv, host, opts.operands, lang.label)


def _script_or_stdin(inv: Inv, host: Host, operands: list[Arg], label: str) -> Effects:
    if not operands or operands[0].literal in STDIN_PATHS:
        host.an.ask(inv.display, "exec:stdin", f"runs {label} code read from standard input")
        return Effects(runs_stdin=True)
    if operands[0].fetched:
        return _deny_download(inv, host)
    host.an.ask(inv.display, "exec:script", f"runs the script {operands[0].show()}")
    return NOTHING


def perl(inv: Inv, host: Host) -> Effects:
    an, args = host.an, list(inv.args)
    code: Arg | None = None
    in_place = False
    while args and (args[0].literal or "").startswith("-") and args[0].literal != "-":
        body = (args.pop(0).literal or "")[1:]
        if body == "-":
            break
        for k, char in enumerate(body):
            if char == "i":
                in_place = True
                break  # the rest is the backup suffix
            if char in "eE":
                rest = body[k + 1 :]
                code = Arg(rest, rest) if rest else (args.pop(0) if args else None)
                break
            if char in "IMmxdDFlC0":
                break  # takes the rest of the word as its value
    if code is None and not args:
        return _script_or_stdin(inv, host, [], "Perl")
    files = args if code is not None else args[1:]
    if in_place:
        for target in files:
            an.write(target, inv.shell, inv.display)
        an.ask(inv.display, "write:perl-inplace", "edits files in place (-i)")
    if code is not None:
        if code.fetched:
            return _deny_download(inv, host)
        calls = _CALLS.search(code.value or "")
        hint = f" that calls {calls.group(0).rstrip('(').strip()}" if calls else ""
        an.ask(inv.display, "exec:perl", f"runs Perl code{hint}")
        return NOTHING
    return _script_or_stdin(inv, host, args, "Perl")


def su(inv: Inv, host: Host) -> Effects:
    """`su [user] -c 'script'`: asks (another user), and the script is analysed."""
    host.an.ask(inv.display, "exec:su", "runs a command as another user")
    opts = parse_options(
        inv.args, short_values="cgGs", long_values=("--command", "--group", "--shell")
    )
    script = opts.value("-c", "--command", "--session-command")
    if script is None:
        return NOTHING
    if script.fetched:
        return _deny_download(inv, host)
    if script.literal is None:
        return NOTHING
    return host.run_script(script.literal, inv.shell.process())


HANDLERS = {
    **dict.fromkeys(SHELLS | OPAQUE_SHELLS, shell),
    "eval": eval_,
    "source": source,
    ".": source,
    "trap": trap,
    "alias": alias,
    "perl": perl,
    "su": su,
}
