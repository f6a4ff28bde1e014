"""The auto-mode whitelist: known build and test commands with checked flags.

Each built-in entry names its command words and the options it refuses (or the
only ones it accepts). Every further word is checked too: a path (an option's
value, glued or not, or an operand) must stay inside the work directory, and a
word known only at run time (``$X``, a leading glob) is refused, since it could
turn into an option. User entries are exact commands; a trailing ``*`` takes any
further arguments, and only when the user writes it.

``covers`` follows ``cd`` through a compound command (every directory it could be
in must stay inside the work directory) and accepts the read-only parts
(``tail``, ``grep`` …) as the shell analysis classifies them on their own.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Extra checks some entries need: the arguments after the command words in, the
# reason they are refused out (None: fine).
Check = Callable[[Sequence[str]], str | None]

_DURATION = re.compile(r"^\d+(\.\d+)?[smhd]?$")
_DYNAMIC = ("$", "`")
_GLOB_START = ("*", "?", "[")


@dataclass(frozen=True, slots=True)
class Entry:
    """One built-in whitelist entry."""

    words: tuple[str, ...]
    usage: str = ""  # how /auto whitelist list shows it, when more than the words
    refuse: frozenset[str] = frozenset()  # "-x" (also inside -abx) and "--long" options
    only: frozenset[str] | None = None  # when set, every option must be one of these
    need: frozenset[str] = frozenset()  # one of these options must be given
    abbrev: bool = True  # long options may be abbreviated (getopt_long, nopt, argparse)
    dash_long: bool = False  # Go: `-name` is one option (and `--name` the same one)
    check: Check | None = None
    then: str = ""  # the arguments are those of another entry (`uv run pytest` → pytest)
    wraps: bool = False  # the arguments end in a command that must be whitelisted too
    script: bool = False  # `./name`: a program inside the work directory

    def shown(self) -> str:
        return self.usage or " ".join(self.words)


def _opts(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _pytest(args: Sequence[str]) -> str | None:
    for value in _short_values(args, "p"):
        if not value.startswith("no:"):
            return f"-p {value} loads a plugin"
    for value in [*_short_values(args, "o"), *_long_values(args, "--override-ini")]:
        key = value.split("=", 1)[0]
        if key not in _PYTEST_INI:
            return f"-o {key}=… overrides an ini setting pytest runs with"
    return None


# ini keys `-o` may set: paths among them are checked like every other word.
_PYTEST_INI = _opts(
    "cache_dir console_output_style log_cli log_cli_level log_level xfail_strict "
    "filterwarnings testpaths python_files python_classes python_functions norecursedirs "
    "junit_family junit_suite_name empty_parameter_set_mark faulthandler_timeout"
)
_MAKE_VARIABLES = _opts("SHELL .SHELLFLAGS MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKEFILES MAKESHELL")


def _make(args: Sequence[str]) -> str | None:
    for arg in _operands(args):
        name, eq, value = arg.partition("=")
        if not eq:
            continue
        if name.strip(" +?:!") in _MAKE_VARIABLES:
            return f"sets {name.strip(' +?:!')}, which changes how make runs recipes"
        if "$(" in value or "${" in value:
            return f"{name}= holds make functions that run at parse time"
    return None


def _go(args: Sequence[str]) -> str | None:
    for arg in args:
        if arg.lstrip("-").startswith("ldflags") and "extld" in arg:
            return "-ldflags -extld runs another linker"
    return None


def _chmod(args: Sequence[str]) -> str | None:
    for arg in args:
        if re.fullmatch(r"[ugoa]*[-+=][rwxXst]*[st][rwxXst]*|[2-7][0-7]{3}", arg):
            return f"mode {arg} sets setuid, setgid or sticky bits"
    return None


def _tar(args: Sequence[str]) -> str | None:
    if "--force-local" not in args and any(":" in a for a in _operands(args)):
        return "an archive name with ':' is read over rsh"
    return None


def _stash(args: Sequence[str]) -> str | None:
    operands = _operands(args)
    if operands and operands[0] not in {"push", "pop", "list", "show"}:
        return f"git stash {operands[0]} is not push, pop, list or show"
    return None


def _npm_run(args: Sequence[str]) -> str | None:
    return None if _operands(args) else "npm run without a script lists scripts"


_NPM = _opts(
    "--script-shell --node-options --userconfig --globalconfig --init-module --prefix -C "
    "--call -c --package --yes -y"
)
_PY_TOOLS = _opts("--python-executable")
_CARGO = _opts("--config -Z")
_GO = _opts("-exec -toolexec -overlay -vettool")
_GIT_NEW_BRANCH = _opts("-q --quiet --track --no-track")

ENTRIES: dict[str, Entry] = {
    "pytest": Entry(("pytest",), refuse=_opts("--pastebin"), check=_pytest),
    "python -m pytest": Entry(("python", "-m", "pytest"), then="pytest"),
    "python3 -m pytest": Entry(("python3", "-m", "pytest"), then="pytest"),
    "uv run pytest": Entry(("uv", "run", "pytest"), then="pytest"),
    "poetry run pytest": Entry(("poetry", "run", "pytest"), then="pytest"),
    "npm test": Entry(("npm", "test"), refuse=_NPM),
    "npm run": Entry(("npm", "run"), "npm run <script>", refuse=_NPM, check=_npm_run),
    "npx jest": Entry(("npx", "jest"), refuse=_NPM),
    "yarn test": Entry(("yarn", "test"), refuse=_NPM | _opts("--use-yarnrc")),
    **{
        f"cargo {sub}": Entry(("cargo", sub), refuse=_CARGO, abbrev=False)
        for sub in ("test", "build", "check", "clippy")
    },
    **{
        f"go {sub}": Entry(("go", sub), refuse=_GO, dash_long=True, abbrev=False, check=_go)
        for sub in ("test", "build", "vet")
    },
    "gofmt": Entry(("gofmt",), "gofmt [-l|-d|-w] …", refuse=_opts("-r")),
    "make": Entry(("make",), "make [target…]", refuse=_opts("--eval -E"), check=_make),
    "ruff check": Entry(("ruff", "check")),
    "ruff format": Entry(("ruff", "format")),
    "uv run ruff check": Entry(("uv", "run", "ruff", "check"), then="ruff check"),
    "uv run ruff format": Entry(("uv", "run", "ruff", "format"), then="ruff format"),
    "black": Entry(("black",)),
    "flake8": Entry(("flake8",)),
    "mypy": Entry(("mypy",), refuse=_PY_TOOLS),
    "python -m mypy": Entry(("python", "-m", "mypy"), then="mypy"),
    "python3 -m mypy": Entry(("python3", "-m", "mypy"), then="mypy"),
    "uv run mypy": Entry(("uv", "run", "mypy"), then="mypy"),
    "tox": Entry(("tox",)),
    "tsc": Entry(("tsc",)),
    "git add": Entry(("git", "add")),
    "git commit": Entry(("git", "commit"), refuse=_opts("--template -t")),
    "git checkout -b": Entry(
        ("git", "checkout", "-b"), "git checkout -b <branch>", only=_GIT_NEW_BRANCH
    ),
    "git switch -c": Entry(("git", "switch", "-c"), "git switch -c <branch>", only=_GIT_NEW_BRANCH),
    "git stash": Entry(("git", "stash"), "git stash [push|pop|list|show]", check=_stash),
    "mkdir": Entry(("mkdir",), only=_opts("-p --parents -v --verbose -m --mode")),
    "cp": Entry(("cp",)),
    "mv": Entry(("mv",)),
    "rm": Entry(("rm",), refuse=_opts("--no-preserve-root")),
    "touch": Entry(("touch",)),
    "chmod": Entry(("chmod",), check=_chmod),
    "tar -t": Entry(
        ("tar",),
        "tar -t…",
        need=_opts("-t --list"),
        only=_opts("-t --list -v --verbose -f --file -z --gzip -j --bzip2 -J --xz --force-local"),
        check=_tar,
    ),
    "unzip -l": Entry(("unzip",), "unzip -l", need=_opts("-l"), only=_opts("-l -v -q -z")),
    "timeout": Entry(
        ("timeout",),
        "timeout N <whitelisted command>",
        only=_opts("-s --signal -k --kill-after --preserve-status --foreground -v --verbose"),
        wraps=True,
    ),
    "./script": Entry((), "./<script in the work directory>", script=True),
}


@dataclass(frozen=True, slots=True)
class UserEntry:
    """An entry the user added: the exact command, or with a trailing ``*`` any
    further arguments."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> UserEntry:
        try:
            words = tuple(shlex.split(text))
        except ValueError as exc:
            raise ValueError(f"cannot read {text!r}: {exc}") from exc
        if not words or words == ("*",):
            raise ValueError("name a command, e.g. `npm run e2e` or `npm run e2e *`")
        if "*" in words[:-1]:
            raise ValueError("`*` may only be the last word (any further arguments)")
        return cls(words)

    @property
    def wildcard(self) -> bool:
        return self.words[-1] == "*"

    def text(self) -> str:
        """Normal form, as stored: shell-quoted words, the wildcard left bare."""
        quoted = [shlex.quote(w) for w in self.words]
        return " ".join([*quoted[:-1], "*"] if self.wildcard else quoted)

    def shown(self) -> str:
        return self.text() + (" (any further arguments)" if self.wildcard else " (exact)")

    def matches(self, argv: Sequence[str]) -> bool:
        if self.wildcard:
            return list(argv[: len(self.words) - 1]) == list(self.words[:-1])
        return list(argv) == list(self.words)


def exact_or_pattern(words: Sequence[str], argv: Sequence[str], *, pattern: bool) -> bool:
    """A saved rule: the same words, or (a pattern) the words before ``*`` then anything."""
    if pattern and words[-1:] == ["*"]:
        return list(argv[: len(words) - 1]) == list(words[:-1])
    return list(argv) == list(words)


@dataclass(slots=True)
class Where:
    """The directories the check works with."""

    workdir: Path
    cwds: list[Path]  # every directory the command could be in at this point
    home: Path
    allowed: tuple[Path, ...] = ()
    read_only: Callable[[Sequence[str], Path], bool] = field(default=lambda _a, _c: False)

    def inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        roots = [Path(os.path.realpath(r)) for r in (self.workdir, *self.allowed)]
        return any(real == r or real.is_relative_to(r) for r in roots)


def covers(
    argvs: Sequence[Sequence[str]],
    items: Sequence[Entry | UserEntry],
    where: Where,
) -> str | None:
    """Why the simple commands ``argvs`` are not all whitelisted (None: they are)."""
    if not argvs:
        return "there is no command"
    if not all(where.inside(c) for c in where.cwds):
        return "its directory is outside the work directory"
    for argv in argvs:
        why = _cd(argv[1:], where) if argv[:1] == ["cd"] else refusal(argv, items, where)
        if why is not None:
            return why
    return None


def refusal(argv: Sequence[str], items: Sequence[Entry | UserEntry], where: Where) -> str | None:
    """Why one simple command is not whitelisted (None: it is)."""
    first: str | None = None
    for item in items:
        if isinstance(item, UserEntry):
            if item.matches(argv):
                return None
            continue
        size = _match_words(item, argv)
        if size is None:
            continue
        why = _check(item, list(argv[size:]), items, where)
        if why is None:
            return None
        first = first or f"`{item.shown()}` {why}"
    if first is None and all(where.read_only(argv, cwd) for cwd in where.cwds):
        return None
    return first or f"`{shlex.join(argv)}` is not on the auto-mode whitelist"


def _match_words(entry: Entry, argv: Sequence[str]) -> int | None:
    if entry.script:  # the program's own path is checked with its arguments
        return 0 if argv and argv[0].startswith("./") else None
    n = len(entry.words)
    return n if tuple(argv[:n]) == entry.words else None


def _check(
    entry: Entry, args: list[str], items: Sequence[Entry | UserEntry], where: Where
) -> str | None:
    if entry.then:
        return _check(ENTRIES[entry.then], args, items, where)
    inner: list[str] = []
    if entry.wraps:
        args, inner = _split_wrapper(args)
        if not inner:
            return "needs a duration and a command"
    why = _options(entry, args) or _paths(args, where)
    if why is None and entry.check is not None:
        why = entry.check(args)
    if why is None and inner:
        why = refusal(inner, items, where)
    return why


def _split_wrapper(args: list[str]) -> tuple[list[str], list[str]]:
    """timeout's own arguments (options and the duration), and the command it runs."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in {"-s", "-k", "--signal", "--kill-after"} else 1
    if i < len(args) and _DURATION.match(args[i]):
        return args[: i + 1], args[i + 1 :]
    return args, []


def _options(entry: Entry, args: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for arg in _option_words(args):
        for name in _names(entry, arg):
            seen.add(name)
            if name in entry.refuse or (entry.abbrev and _abbreviates(name, entry.refuse)):
                return f"refuses {name}"
            if entry.only is not None and name not in entry.only:
                return f"does not accept {name}"
    if entry.need and not seen & entry.need:
        return "needs " + " or ".join(sorted(entry.need))
    return None


def _names(entry: Entry, arg: str) -> list[str]:
    """The option names one word holds: `--name[=v]`, or each letter of `-abc`."""
    if arg.startswith("--") or entry.dash_long:
        return ["-" * (1 if entry.dash_long else 2) + arg.lstrip("-").split("=", 1)[0]]
    return [f"-{ch}" for ch in arg[1:]]


def _abbreviates(name: str, refused: frozenset[str]) -> bool:
    return name.startswith("--") and len(name) > 3 and any(r.startswith(name) for r in refused)


def _paths(args: Sequence[str], where: Where) -> str | None:
    for arg in args:
        if any(d in arg for d in _DYNAMIC) or arg.startswith(_GLOB_START):
            return f"has {arg!r}, known only at run time"
        for piece in _pieces(arg):
            if piece == "/dev/null":
                continue
            if piece.startswith("~"):
                return f"names {piece}, outside the work directory"
            for cwd in where.cwds:
                if not where.inside(cwd / piece):
                    return f"names {piece}, outside the work directory"
    return None


def _pieces(arg: str) -> list[str]:
    """The parts of one word that could be paths: itself, an option's value."""
    if arg.startswith("-"):
        body = arg.lstrip("-")
        parts = [body.split("=", 1)[1]] if "=" in body else []
        if not arg.startswith("--") and len(arg) > 2:
            parts.append(arg[2:])  # a short option's glued value (-C/dir, -o/out)
    else:
        parts = [arg]
    out: list[str] = []
    for part in parts:
        out.append(part)
        out.extend(p for p in re.split(r"[=:,]", part)[1:] if p)
    return [p for p in out if p]


def _cd(args: Sequence[str], where: Where) -> str | None:
    if len(args) != 1 or args[0] in {"-", ""} or any(d in args[0] for d in _DYNAMIC):
        return "cd without one fixed directory inside the work directory"
    target = args[0]
    if ".." in Path(target).parts or target.startswith("~"):
        return f"cd {target} leaves the directories it can check"
    moved = [cwd / target for cwd in where.cwds]
    if not all(where.inside(p) for p in moved):
        return f"cd {target} leaves the work directory"
    where.cwds = list(dict.fromkeys([*where.cwds, *moved]))
    return None


def _option_words(args: Sequence[str]) -> list[str]:
    words: list[str] = []
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("-") and arg != "-":
            words.append(arg)
    return words


def _operands(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    rest = False
    for arg in args:
        if rest or not arg.startswith("-") or arg == "-":
            out.append(arg)
        elif arg == "--":
            rest = True
    return out


def _short_values(args: Sequence[str], letter: str) -> list[str]:
    """Values of a short option in every spelling: `-p v`, `-pv`, `-qp v`, `-qpv`."""
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]:
            rest = arg[arg.index(letter, 1) + 1 :]
            found.append(rest or (args[i + 1] if i + 1 < len(args) else ""))
    return found


def _long_values(args: Sequence[str], name: str) -> list[str]:
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            found.append(arg.split("=", 1)[1])
        elif arg == name:
            found.append(args[i + 1] if i + 1 < len(args) else "")
    return found


def entry_for(text: str, table: Mapping[str, Entry] = ENTRIES) -> Entry | UserEntry:
    """A stored whitelist item: a built-in entry by name, else the user's command."""
    return table.get(text) or UserEntry.parse(text)
