"""What one analysis accumulates (findings, writes, commands) and the shell state
it tracks while walking (the cwd that ``cd`` changes, defined functions)."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mnemocode.safety.secret_paths import proc_secret, secrets_of
from mnemocode.safety.shell import globs
from mnemocode.safety.shell.verdict import SEVERITY, Action, Arg, Finding, ShellVerdict, names

# Device files a redirect may point at without writing anything that persists.
_HARMLESS_DEVICES = re.compile(r"^/dev/(null|zero|full|stdout|stderr|stdin|tty|fd/\d+|pts/\d+)$")
_SELF_FD = re.compile(r"^/proc/(self|\d+)/fd/\d+$")
# Writing to a descriptor other than stdout/stderr: one opened by `exec 3>`, or
# stdin when it is a socket (`</dev/tcp/h/p >&0`) — where the data goes is unknown.
_OTHER_FD = re.compile(r"^/dev/(stdin|fd/(?![12]$)\d+)$|^/proc/(self|\d+)/fd/(?![12]$)\d+$")
_NETWORK_DEVICE = re.compile(r"/dev/(tcp|udp)/")
# Disks and memory: writing to these destroys data (or the running system).
_BLOCK_DEVICES = re.compile(
    r"^/dev/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|loop\d|dm-\d|md\d|sr\d|"
    r"r?disk\d|disk/|mapper/|mem$|kmem$|port$|root$)"
)
_SYSTEM_DIRS = names(
    "/bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /sbin /srv "
    "/sys /usr /usr/bin /usr/lib /usr/local /usr/sbin /var /Users /System /Library "
    "/Applications /private /nix /snap"
)
_MAX_SHOWN = 80


@dataclass(slots=True)
class Shell:
    """The state of one shell while walking: copied for subshells and pipelines."""

    cwd: Path | None  # None once a `cd` went somewhere we cannot know
    functions: set[str] = field(default_factory=set)
    cd_functions: set[str] = field(default_factory=set)  # functions whose body cds
    in_loop: bool = False

    def copy(self) -> Shell:
        return Shell(self.cwd, set(self.functions), set(self.cd_functions), self.in_loop)

    def process(self) -> Shell:
        """The state a new process starts with: the cwd, but none of our functions
        (`env f`, `sudo f`, `bash -c f` and `command f` run a program named f)."""
        return Shell(self.cwd, in_loop=self.in_loop)


def normalise(path: str) -> str:
    """Lexical normalisation (no symlinks): ``/a/./b/../c`` -> ``/a/c``, ``//`` -> ``/``."""
    return re.sub(r"^/+", "/", os.path.normpath(path))


def shorten(command: str) -> str:
    command = " ".join(command.split())
    return command if len(command) <= _MAX_SHOWN else command[: _MAX_SHOWN - 1] + "…"


@functools.lru_cache(maxsize=16)
def _protected_dirs(workdir: Path, home: Path) -> frozenset[str]:
    """Folders whose removal is always refused: /, the home, the work directory,
    their parents and the system's."""
    protected = {"/", str(home), str(workdir)}
    for base in (home, workdir):
        protected.update(str(p) for p in base.parents)
    return frozenset(protected | _SYSTEM_DIRS)


class Analysis:
    """Everything found in one command line, plus the fixed facts it is judged by."""

    def __init__(self, *, workdir: Path, home: Path) -> None:
        self.workdir = Path(normalise(os.path.abspath(workdir)))
        self.home_dir = Path(normalise(os.path.abspath(home)))
        self.findings: list[Finding] = []
        self.writes: list[str] = []
        self.reads: list[str] = []
        self.commands: list[str] = []
        self.tainted: set[str] = set()  # HOME / PWD when the command assigns them
        self.depth = 0  # nesting of `bash -c` / `eval` scripts
        self.zsh = 0  # > 0 while analysing a zsh script (stricter about globs)
        self.network = False  # set by parts that talk to the network without a net: rule
        self.secrets = secrets_of(self.home_dir)
        self.protected = _protected_dirs(self.workdir, self.home_dir)

    # ---- findings ----------------------------------------------------------------

    def add(self, action: Action, rule: str, reason: str) -> None:
        self.findings.append(Finding(action, rule, reason))

    def allow(self, command: str, rule: str) -> None:
        self.add("allow", rule, f"`{shorten(command)}` is read-only")

    def ask(self, command: str, rule: str, what: str) -> None:
        self.add("ask", rule, f"`{shorten(command)}` {what}")

    def deny(self, command: str, rule: str, what: str) -> None:
        self.add("deny", rule, f"`{shorten(command)}` {what}")

    # ---- paths -------------------------------------------------------------------

    def resolve(self, value: str, shell: Shell) -> Path | None:
        if value.startswith("/"):
            return Path(normalise(value))
        if shell.cwd is None:
            return None
        return Path(normalise(str(shell.cwd / value)))

    def is_protected(self, path: Path) -> bool:
        """/, ~, the work directory, anything containing them, and system folders."""
        return str(path) in self.protected

    @staticmethod
    def harmless(path: Path) -> bool:
        """/dev/null, the terminal, our own file descriptors: writing there persists nothing."""
        text = str(path)
        return bool(_HARMLESS_DEVICES.match(text) or _SELF_FD.match(text))

    def write(self, arg: Arg, shell: Shell, command: str) -> Path | None:
        """Record a write target; deny writes to disks. Returns the resolved path."""
        value = arg.literal
        if _NETWORK_DEVICE.match(value or arg.raw):
            self.ask(command, "net:dev-tcp", f"opens a network connection ({arg.show()})")
        path = self.resolve(value, shell) if value else None
        if path is None:
            self.record("?")
            return None
        text = str(path)
        if _OTHER_FD.match(text):
            self.record("?")
            self.ask(command, "write:fd-dup", f"writes to the file descriptor {text}")
            return None
        if self.harmless(path):
            return path
        if _BLOCK_DEVICES.match(text):
            self.deny(command, "deny:block-device", f"writes to the disk device {text}")
        self.record(text)
        return path

    def record(self, target: str) -> None:
        if target not in self.writes:
            self.writes.append(target)

    def read(
        self, arg: Arg, shell: Shell, command: str, *, recursive: bool = False, names: bool = False
    ) -> None:
        """Record a file a command reads; ask when it is a secret, a glob that may
        reach one, a name known only at run time, or (``recursive``: the command
        reads the files below a folder) a folder above a credential store.
        ``names``: the command shows only names and sizes (``ls``), not content."""
        value = arg.value
        if _NETWORK_DEVICE.match(value or arg.raw):
            self.ask(command, "net:dev-tcp", f"reads from a network connection ({arg.show()})")
            return
        if value is None:
            if arg.raw != "?" and "{}" not in arg.raw:  # xargs/find names: their caller's job
                what = f"reads {arg.raw}, a file named only at run time"
                self.ask(command, "unknown:dynamic-read", what)
            return
        if value.startswith("-"):
            return
        if arg.glob:
            globs.read_pattern(self, value, shell, command, recursive=recursive, names=names)
            return
        if proc_secret(Path(value).parts):  # before `..` is folded: /proc/self/cwd/..
            self.ask(command, "secret:read", f"reads {value}, another process's view")
        path = self.resolve(value, shell)
        if path is not None and not self.harmless(path):
            self.read_path(path, command, recursive=recursive)

    def read_path(self, path: Path, command: str, *, recursive: bool = False) -> None:
        above = self.secrets.contains_secrets(path)
        if above and not recursive:
            return  # `ls ~`: the credential files below are not read
        if str(path) not in self.reads:
            self.reads.append(str(path))
        if self.secrets.is_secret(path):
            self.ask(command, "secret:read", f"reads {path}, which may hold credentials")
        elif above:
            self.ask(command, "secret:read", f"reads under {path}, which holds credential files")

    # ---- result ------------------------------------------------------------------

    def verdict(self) -> ShellVerdict:
        commands = tuple(dict.fromkeys(self.commands))
        network = self.network or any(f.rule.startswith("net:") for f in self.findings)
        found = (tuple(self.writes), commands, tuple(self.reads), network)
        worst = max((SEVERITY[f.action] for f in self.findings), default=0)
        if worst:
            first = next(f for f in self.findings if SEVERITY[f.action] == worst)
            return ShellVerdict(first.action, first.reason + ".", first.rule, *found)
        if not self.findings:
            return ShellVerdict("allow", "Nothing to run.", "safe:empty", *found)
        rules = list(dict.fromkeys(f.rule for f in self.findings))
        if len(rules) == 1:
            return ShellVerdict("allow", self.findings[0].reason + ".", rules[0], *found)
        shown = ", ".join(f"`{shorten(c)}`" for c in commands[:4])
        more = ", ..." if len(commands) > 4 else ""
        reason = (
            f"Every command is read-only ({shown}{more})."
            if commands
            else ("Every part is read-only (assignments and tests).")
        )
        return ShellVerdict("allow", reason, "safe:read-only", *found)


@dataclass(slots=True)
class Inv:
    """One simple command being classified: its name, arguments and shell."""

    name: str
    args: list[Arg]
    display: str
    shell: Shell


# Variables a command line may set without changing what programs run or where
# they read their configuration. Lower-case names are shell-local by convention.
_HARMLESS_VARIABLES = names(
    "LANG LANGUAGE TZ NO_COLOR FORCE_COLOR CLICOLOR CLICOLOR_FORCE COLUMNS LINES TERM "
    "COLORTERM PYTHONDONTWRITEBYTECODE PYTHONUNBUFFERED PYTHONIOENCODING RUST_BACKTRACE "
    "RUST_LOG GIT_TERMINAL_PROMPT CI"
)
_PAGERS = frozenset({"GIT_PAGER", "PAGER", "MANPAGER", "SYSTEMD_PAGER"})
# zsh ties these lower-case arrays to PATH and friends.
_TIED = frozenset({"path", "cdpath", "fpath", "module_path", "manpath"})


def harmless_variable(name: str, value: str | None) -> bool:
    if name in _TIED:
        return False
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name.startswith("LC_"):
        return True
    if name in _PAGERS:
        return value in ("cat", "", "less", "more")
    return name in _HARMLESS_VARIABLES


@dataclass(frozen=True, slots=True)
class Effects:
    """What a command does with data flowing through a pipeline."""

    fetches: bool = False  # downloads something (curl, wget ...) to its output
    runs_stdin: bool = False  # runs what it reads on standard input as a program

    def __or__(self, other: Effects) -> Effects:
        return Effects(self.fetches or other.fetches, self.runs_stdin or other.runs_stdin)


NOTHING = Effects()


class Host(Protocol):
    """What command handlers may call back into: the analysis, classification of
    an inner command (wrappers) and analysis of an inner script (``bash -c``)."""

    an: Analysis

    def classify(self, argv: list[Arg], shell: Shell) -> Effects: ...

    def run_script(self, source: str, shell: Shell, *, dialect: str = "bash") -> Effects: ...
