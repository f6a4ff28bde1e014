"""Commands that run other commands: sudo, env, nice, timeout, xargs, find -exec ...

The wrapped command is classified like any other (and listed in ``commands``);
``find`` is here because ``-exec`` makes it a wrapper.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mnemocode.safety.shell.options import parse_options
from mnemocode.safety.shell.state import NOTHING, Effects, Host, Inv, Shell, harmless_variable
from mnemocode.safety.shell.verdict import UNKNOWN, Arg, literal, names
from mnemocode.safety.shell.writes import wipes

Handler = Callable[[Inv, Host], Effects]

_NAME_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_DYNAMIC = "has an argument known only at run time"
# Wrappers that take options and then a command: (short options with a value,
# long options with a value, operands before the command).
_SIMPLE: dict[str, tuple[str, tuple[str, ...], int]] = {
    "nice": ("n", ("--adjustment",), 0),
    "nohup": ("", (), 0),
    "timeout": ("sk", ("--signal", "--kill-after"), 1),
    "stdbuf": ("ioe", ("--input", "--output", "--error"), 0),
    "ionice": ("cnt", ("--class", "--classdata"), 0),
    "time": ("", (), 0),  # the bash keyword: only -p; /usr/bin/time's options ask
    "setsid": ("", (), 0),
    "taskset": ("", (), 1),
    "chronic": ("", (), 0),
    "builtin": ("", (), 0),
    "exec": ("a", (), 0),
    "busybox": ("", (), 0),
    "command": ("", (), 0),
}
_FIND_PLAIN_DELETE = names(
    "-delete -depth -d -mindepth -maxdepth -xdev -mount -ignore_readdir_race -noleaf "
    "-print -print0 -true"
)


def _with_cwd(host: Host, shell: Shell, target: Arg | None) -> Shell:
    inner = shell.process()
    if target is not None:
        value = target.literal
        inner.cwd = host.an.resolve(value, shell) if value else None
    return inner


def simple_wrapper(inv: Inv, host: Host) -> Effects:
    short, longs, skip = _SIMPLE[inv.name]
    opts = parse_options(inv.args, short_values=short, long_values=longs, stop_at_operand=True)
    an = host.an
    if opts.dynamic:
        an.ask(inv.display, "unknown:dynamic-argument", _DYNAMIC)
        return NOTHING
    if inv.name == "command" and opts.has("-v", "-V"):
        an.allow(inv.display, "safe:command-lookup")
        return NOTHING
    if inv.name == "ionice" and opts.has("-p", "-P", "-u", "--pid", "--pgid", "--uid"):
        an.ask(inv.display, "exec:ionice", "changes the priority of running processes")
        return NOTHING
    if inv.name == "taskset" and opts.has("-p", "--pid"):
        an.ask(inv.display, "exec:taskset", "changes the CPU affinity of a running process")
        return NOTHING
    if inv.name == "time" and any(flag != "-p" for flag, _ in opts.flags):
        an.ask(inv.display, "unknown:time-option", "passes options to time (bash runs them)")
        return NOTHING
    inner = opts.operands[skip:]
    if not inner:
        an.allow(inv.display, f"safe:{inv.name}")
        return NOTHING
    if inv.name == "time":  # the keyword: the pipeline runs in this shell
        return host.classify(inner, inv.shell)
    shell = inv.shell.process()
    effects = host.classify(inner, shell)
    if inv.name in ("builtin", "command"):  # run in this shell (`command cd /`), no functions
        inv.shell.cwd = shell.cwd
    return effects


def sudo(inv: Inv, host: Host) -> Effects:
    opts = parse_options(
        inv.args,
        short_values="ugCDhpPrtTUR",
        long_values=("--user", "--group", "--chdir", "--host", "--prompt", "--role", "--type"),
        stop_at_operand=True,
    )
    an = host.an
    an.ask(inv.display, f"exec:{inv.name}", "runs a command as another user (usually root)")
    if opts.dynamic:
        an.record("?")
    shell = _with_cwd(host, inv.shell, opts.value("-D", "--chdir"))
    if opts.has("-e", "--edit") or inv.name == "sudoedit":
        for target in opts.operands:
            an.write(target, shell, inv.display)
        return NOTHING
    if not opts.operands:
        return NOTHING
    return host.classify(opts.operands, shell)


def env(inv: Inv, host: Host) -> Effects:
    an, args, shell = host.an, list(inv.args), inv.shell
    i = 0
    while i < len(args):
        value = args[i].literal
        if value is None:
            an.ask(inv.display, "unknown:dynamic-argument", _DYNAMIC)
            return NOTHING
        if value in ("-i", "-", "--ignore-environment", "-0", "--null", "-v", "--debug"):
            i += 1
        elif value in ("-u", "--unset"):
            i += 2
        elif value.startswith(("-u", "--unset=")):
            i += 1
        elif value in ("-C", "--chdir"):
            shell = _with_cwd(host, shell, args[i + 1] if i + 1 < len(args) else None)
            i += 2
        elif value.startswith(("-C", "--chdir=")):
            target = value.removeprefix("--chdir=").removeprefix("-C")
            shell = _with_cwd(host, shell, literal(target))
            i += 1
        elif value.startswith("-"):
            an.ask(inv.display, "unknown:env-option", f"uses the env option {value}")
            return NOTHING
        elif (match := _NAME_VALUE.match(value)) is not None:
            if not harmless_variable(match.group(1), match.group(2)):
                what = f"sets {match.group(1)}, which can change what the command runs"
                an.ask(inv.display, "env:assignment", what)
            i += 1
        else:
            break
    if i >= len(args):
        an.ask(inv.display, "env:dump", "prints the whole environment, API keys included")
        return NOTHING
    return host.classify(args[i:], shell.process())


def xargs(inv: Inv, host: Host) -> Effects:
    opts = parse_options(
        inv.args,
        short_values="adEILnPs",
        short_optional="eil",
        long_values=("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars"),
        stop_at_operand=True,
    )
    if opts.dynamic:
        host.an.ask(inv.display, "unknown:dynamic-argument", _DYNAMIC)
        return NOTHING
    for source in opts.values("-a", "--arg-file"):
        host.an.read(source, inv.shell, inv.display)
    inner = opts.operands or [literal("echo")]
    marker = opts.value("-I", "--replace")
    if marker is None and opts.has("-i"):
        marker = opts.value("-i") or literal("{}")
    token = marker.literal if marker is not None else None
    if token:
        inner = [Arg(None, a.raw) if token in (a.value or "") else a for a in inner]
    else:
        inner = [*inner, UNKNOWN]  # the words read from standard input
    return host.classify(inner, inv.shell.process())


def find(inv: Inv, host: Host) -> Effects:
    an, args = host.an, inv.args
    i = 0
    while i < len(args) and (args[i].literal or "") in ("-H", "-L", "-P", "-D"):
        i += 2 if args[i].literal == "-D" else 1
    starts: list[Arg] = []
    while i < len(args) and not _find_expression_start(args[i]):
        starts.append(args[i])
        i += 1
    starts = starts or [literal(".")]
    risky = _find_expression(inv, host, args[i:])
    if risky is None:
        return NOTHING
    if "-exec" in risky:  # the command reads the files found: everything below the starts
        for start in starts:
            an.read(start, inv.shell, inv.display, recursive=True)
    if "-delete" in risky:
        for start in starts:
            path = an.write(start, inv.shell, inv.display)
            hit = wipes(an, start, path, inv)
            if hit is not None and risky <= _FIND_PLAIN_DELETE:
                an.deny(inv.display, "deny:find-delete", f"deletes everything under {hit}")
        an.ask(inv.display, "write:find-delete", "deletes the files it finds")
    elif not risky & {"-fprint", "-fprint0", "-fls", "-fprintf", "-exec"}:
        an.allow(inv.display, "safe:find")
    return NOTHING


def _find_expression_start(arg: Arg) -> bool:
    value = arg.literal
    return value is None or value.startswith("-") or value in ("(", "!", ")")


def _find_expression(inv: Inv, host: Host, expr: list[Arg]) -> set[str] | None:
    """The predicates used; runs -exec commands; None once it has asked."""
    an = host.an
    seen: set[str] = set()
    j = 0
    while j < len(expr):
        token = expr[j].literal
        if token is None or expr[j].maybe_flag:
            an.ask(inv.display, "unknown:dynamic-argument", _DYNAMIC)
            return None
        if token in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((k for k in range(j + 1, len(expr)) if expr[k].value in (";", "+")), None)
            if end is None:
                an.ask(inv.display, "unknown:syntax", f"has {token} without a closing ';' or '+'")
                return None
            inner = [Arg(None, a.raw) if "{}" in (a.value or "") else a for a in expr[j + 1 : end]]
            shell = inv.shell.process()
            if token.endswith("dir"):
                shell.cwd = None
            if token.startswith("-ok"):
                an.ask(inv.display, "exec:find-ok", f"runs a command for each file ({token})")
            elif inner:
                host.classify(inner, shell)
            seen.add("-exec")
            j = end + 1
            continue
        if token in ("-fprint", "-fprint0", "-fls", "-fprintf") and j + 1 < len(expr):
            an.write(expr[j + 1], inv.shell, inv.display)
            an.ask(inv.display, "write:find-output", f"writes to {expr[j + 1].show()} ({token})")
            j += 1
        if token.startswith("-"):
            seen.add(token)
        j += 1
    return seen


def watch(inv: Inv, host: Host) -> Effects:
    opts = parse_options(
        inv.args, short_values="nq", long_values=("--interval",), stop_at_operand=True
    )
    if opts.dynamic or any(a.literal is None for a in opts.operands):
        host.an.ask(inv.display, "unknown:dynamic-argument", _DYNAMIC)
        return NOTHING
    if not opts.operands:
        host.an.allow(inv.display, "safe:watch")
        return NOTHING
    if opts.has("-x", "--exec"):
        return host.classify(opts.operands, inv.shell.process())
    script = " ".join(a.literal or "" for a in opts.operands)
    return host.run_script(script, inv.shell.process())


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(_SIMPLE, simple_wrapper),
    **dict.fromkeys(("sudo", "doas", "pkexec", "run0", "sudoedit"), sudo),
    "env": env,
    "xargs": xargs,
    "find": find,
    "watch": watch,
}
