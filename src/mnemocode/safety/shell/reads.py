"""Known read-only commands, with the flag checks that keep them read-only.

A checker returns None when the invocation only reads, or ``(rule, what)`` when
it asks; a flag that writes a file records the file as a write target.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mnemocode.safety.shell.options import Options, parse_options
from mnemocode.safety.shell.state import Analysis, Inv
from mnemocode.safety.shell.verdict import literal, names

Outcome = tuple[str, str] | None
Checker = Callable[[Inv, Analysis], Outcome]

# Read-only whatever their flags (none of their options writes a file or runs a
# program); redirections are judged separately.
PLAIN = names(
    """
    ls cat head tail wc nl tac rev pwd echo printf true false : whoami id groups uname
    uptime nproc arch which whereis type basename dirname realpath readlink stat du df free
    cut tr paste join comm fold fmt column expand unexpand grep egrep fgrep zgrep
    cmp diff seq test [ expr md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum
    cksum sum od hexdump strings numfmt tty locale sleep logname users who w getconf
    zcat bzcat xzcat lsb_release wait jobs exit return break continue shift shopt dirs
    times cal ncal look lsblk lscpu lsof pgrep pstree
    """
)

# Read-only commands whose operands are not files (for ``ShellVerdict.reads``).
NOT_FILES = names(
    """
    echo printf test [ expr seq sleep numfmt type which whereis whoami id groups uname
    uptime nproc arch pwd true false : date hostname wait jobs exit return break continue
    shift shopt dirs times cal ncal getconf locale tty logname users who w ps pgrep pstree
    basename dirname printenv
    """
)
_DYNAMIC = ("unknown:dynamic-argument", "has an argument known only at run time")
# Checkers that record the files they read themselves (their operands are not all files).
OWN_READS = names("awk gawk mawk nawk jq")


def _write_flag(inv: Inv, an: Analysis, opts: Options, *flags: str) -> Outcome:
    targets = opts.values(*flags)
    if not targets and not opts.has(*flags):
        return None
    for target in targets:
        an.write(target, inv.shell, inv.display)
    if not targets:
        an.record("?")
    shown = targets[0].show() if targets else "a file"
    return f"write:{inv.name}-output", f"writes its output to {shown}"


def _printenv(inv: Inv, an: Analysis) -> Outcome:
    """`printenv NAME` reads freely unless NAME looks like a secret; a dump of the
    whole environment asks (it holds the API keys)."""
    from mnemocode.safety.secrets import is_secret_name

    words = [a.literal for a in inv.args if not (a.literal or "").startswith("-")]
    if not words:
        return "env:dump", "prints the whole environment, API keys included"
    if any(w is None or is_secret_name(w) for w in words):
        return "env:secret-variable", "prints a variable that may hold a secret"
    return None


def _ps(inv: Inv, an: Analysis) -> Outcome:
    """`ps e`, `ps eww`, `ps -E`: other processes' environments (their API keys)."""
    for arg in inv.args:
        value = arg.literal
        if value is None:
            return _DYNAMIC
        bsd = not value.startswith("-") and "e" in value
        if bsd or value in ("-E", "--environment") or "environ" in value:
            return "env:ps-environment", "shows the environment of running processes"
    return None


def _sort(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(inv.args, short_values="kotST", long_values=("--output", "--key"))
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("--compress-program"):
        return "exec:sort-compress-program", "runs the program given to --compress-program"
    return _write_flag(inv, an, opts, "-o", "--output")


def _nth_operand_writes(n: int, short_values: str) -> Checker:
    """`uniq IN OUT`, `xxd IN OUT`: the n-th operand is an output file."""

    def check(inv: Inv, an: Analysis) -> Outcome:
        opts = parse_options(inv.args, short_values=short_values)
        if opts.dynamic:
            return _DYNAMIC
        if len(opts.operands) < n:
            return None
        an.write(opts.operands[n - 1], inv.shell, inv.display)
        return f"write:{inv.name}-output", f"writes to {opts.operands[n - 1].show()}"

    return check


def _output_flag(short_values: str, *flags: str, risky: tuple[str, ...] = ()) -> Checker:
    """Tools whose only writing options are an output file (and a few that run code)."""

    longs = tuple(f for f in flags if f.startswith("--"))

    def check(inv: Inv, an: Analysis) -> Outcome:
        opts = parse_options(inv.args, short_values=short_values, long_values=longs)
        if opts.dynamic:
            return _DYNAMIC
        for flag in risky:
            if opts.has(flag) or (len(flag) == 2 and flag[1] in opts.short_chars()):
                return f"exec:{inv.name}-flag", f"uses {flag}, which writes files or runs a program"
        return _write_flag(inv, an, opts, *flags)

    return check


def _rg(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(inv.args, short_values="ABCEMTdefgjmrt")
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("--pre", "--hostname-bin"):
        return "exec:rg-pre", "runs a program on every file it searches (--pre/--hostname-bin)"
    if opts.has("--search-zip") or "z" in opts.short_chars():
        return "exec:rg-search-zip", "runs decompression programs (-z/--search-zip)"
    return None


def _fd(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(inv.args, short_values="deEtSjcoc")
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("--exec", "--exec-batch") or {"x", "X"} & opts.short_chars():
        return "exec:fd-exec", "runs a command for every file it finds"
    return None


def _date(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(
        inv.args, short_values="dfr", long_values=("--date", "--file", "--reference")
    )
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("-s", "--set") or any(not (a.value or "").startswith("+") for a in opts.operands):
        return "write:date-set", "sets the system clock"
    return None


def _hostname(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(inv.args)
    if opts.dynamic or opts.operands or opts.has("-F", "--file", "-b", "--boot"):
        return "write:hostname-set", "sets the host name"
    return None


def _tree(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(inv.args, short_values="oLPIHT")
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("-R"):
        return "write:tree-output", "writes an output file into every directory (-R)"
    return _write_flag(inv, an, opts, "-o")


_GETLINE = r"getline(?:\s+[A-Za-z_]\w*(?:\[[^]]*\])?)?\s*<\s*"


def _awk(inv: Inv, an: Analysis) -> Outcome:
    programs, operands = [], []
    args = list(inv.args)
    while args:
        value = args.pop(0).literal
        if value is None:
            return _DYNAMIC
        if value == "--":
            operands = list(args)
            break
        if value in ("-F", "-v", "--field-separator", "--assign") and args:
            args.pop(0)
        elif value in ("-e", "--source") and args:
            programs.append(args.pop(0).literal)
        elif value.startswith(("-F", "-v", "--field-separator=", "--assign=")):
            continue
        elif value.startswith("-") and value != "-":
            return "exec:awk-flag", f"uses the awk option {value}, which loads or writes files"
        else:
            operands = [inv.args[len(inv.args) - len(args) - 1], *args]
            break
    if not programs:
        programs = [operands[0].literal] if operands else []
        operands = operands[1:]
    outcome = next(filter(None, (_awk_program(p, inv, an) for p in programs)), None)
    if outcome is not None:
        return outcome
    for operand in operands:
        if not re.match(r"[A-Za-z_]\w*=", operand.value or ""):  # `var=value` is no file
            an.read(operand, inv.shell, inv.display)
    return None


def _awk_program(program: str | None, inv: Inv, an: Analysis) -> Outcome:
    if program is None or re.search(r"system|[|>@]|/inet", program):
        return "exec:awk-program", "runs an awk program that can write files or run commands"
    if re.search(r"\bARGV\b|\bENVIRON\b|" + _GETLINE + r"[^\s\"]", program):
        return "exec:awk-program", "reads files (or the environment) chosen by the program"
    for name in re.findall(_GETLINE + r'"([^"]*)"', program):
        an.read(literal(name), inv.shell, inv.display)
    return None


def _jq(inv: Inv, an: Analysis) -> Outcome:
    """Files: the operands after the filter, `--rawfile`/`--slurpfile NAME FILE`,
    `-f FILE`; after `--args`/`--jsonargs` the operands are values."""
    args, operands, program_file = list(inv.args), [], False
    i = 0
    while i < len(args):
        value = args[i].literal
        if value is None:
            return _DYNAMIC
        if value in ("--args", "--jsonargs"):
            break
        if value in ("--arg", "--argjson"):
            i += 3
            continue
        if value in ("--rawfile", "--slurpfile"):
            if i + 2 < len(args):
                an.read(args[i + 2], inv.shell, inv.display)
            i += 3
            continue
        if value in ("-f", "--from-file", "-L", "--indent"):
            if value in ("-f", "--from-file") and i + 1 < len(args):
                an.read(args[i + 1], inv.shell, inv.display)
                program_file = True
            i += 2
            continue
        if not value.startswith("-") or value == "-":
            operands.append(args[i])
        i += 1
    for operand in operands[0 if program_file else 1 :]:
        an.read(operand, inv.shell, inv.display)
    return None


# ---- sed -------------------------------------------------------------------------

_SED_ADDRESS = re.compile(r"\s*(\d+|\$|/(\\.|[^/\\\n])*/[IM]*)(~\d+)?")
_SED_SIMPLE = set("pPdDqQ=lnN{}")


def _sed(inv: Inv, an: Analysis) -> Outcome:
    opts = parse_options(
        inv.args, short_values="efl", short_optional="i", long_values=("--expression", "--file")
    )
    if opts.dynamic:
        return _DYNAMIC
    if opts.has("-f", "--file"):
        return "exec:sed-script-file", "runs a sed script from a file"
    scripts = opts.values("-e", "--expression")
    files = opts.operands
    if not scripts and files:
        scripts, files = files[:1], files[1:]
    for script in scripts:
        if script.literal is None or not sed_script_is_safe(script.literal):
            return "exec:sed-script", "runs a sed script that may write files or run commands"
    if opts.has("-i", "--in-place"):
        for target in files:
            an.write(target, inv.shell, inv.display)
        return "write:sed-inplace", "edits files in place (-i)"
    return None


def sed_script_is_safe(script: str) -> bool:
    """Only printing/deleting/quitting and `s` without the `w`/`e` flags."""
    i, n = 0, len(script)
    while i < n:
        while i < n and script[i] in " \t\n;":
            i += 1
        if i >= n:
            return True
        i = _skip_blank(script, _sed_address(script, i))
        if i < n and script[i] == "!":
            i = _skip_blank(script, i + 1)
        if i >= n:
            return False
        command = script[i]
        if command in ("s", "y"):
            end = _sed_substitution(script, i + 1, command)
            if end < 0:
                return False
            i = end
        elif command in _SED_SIMPLE:
            i += 1
            while i < n and script[i].isdigit():
                i += 1
        else:
            return False
    return True


def _sed_address(script: str, i: int) -> int:
    """Skip an address or a range ``addr1,addr2``."""
    match = _SED_ADDRESS.match(script, i)
    if match is None:
        return i
    i = match.end()
    if i < len(script) and script[i] == ",":
        second = _SED_ADDRESS.match(script, i + 1)
        i = second.end() if second else i + 1
    return i


def _skip_blank(script: str, i: int) -> int:
    while i < len(script) and script[i] in " \t":
        i += 1
    return i


def _sed_substitution(script: str, i: int, command: str) -> int:
    if i >= len(script) or script[i] in "\\\n":
        return -1
    delim = script[i]
    i += 1
    for _ in range(2):
        while i < len(script) and script[i] != delim:
            i += 2 if script[i] == "\\" else 1
        if i >= len(script):
            return -1
        i += 1
    start = i
    while i < len(script) and script[i] not in ";\n}":
        i += 1
    flags = script[start:i].strip()
    if command == "y":
        return i if not flags else -1
    return i if re.fullmatch(r"[gpiImM0-9]*", flags) else -1


CHECKED: dict[str, Checker] = {
    "printenv": _printenv,
    "ps": _ps,
    "sort": _sort,
    "uniq": _nth_operand_writes(2, "fsw"),
    "xxd": _nth_operand_writes(2, "cglsoC"),
    "base64": _output_flag("o", "-o", "--output"),
    "base32": _output_flag("o", "-o", "--output"),
    "sdiff": _output_flag("o", "-o", "--output"),
    "file": _output_flag("mfFeP", risky=("-C", "--compile")),
    "ag": _output_flag("", risky=("--pager",)),
    "yq": _output_flag("", risky=("-i", "--inplace")),
    "rg": _rg,
    "fd": _fd,
    "fdfind": _fd,
    "date": _date,
    "hostname": _hostname,
    "tree": _tree,
    "jq": _jq,
    "awk": _awk,
    "gawk": _awk,
    "mawk": _awk,
    "nawk": _awk,
    "sed": _sed,
}
