"""``git``: read-only subcommands (with flag checks) run; everything else asks.

``-c``/``--config-env`` always ask: configuration given on the command line can
make git run any program (``alias.x=!cmd``, ``core.pager``, ``core.fsmonitor``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mnemocode.safety.shell.options import Options, parse_options
from mnemocode.safety.shell.state import Analysis, Inv, Shell
from mnemocode.safety.shell.verdict import Arg, names

_READ_ONLY = names(
    "status log diff show blame annotate rev-parse ls-files ls-tree cat-file describe "
    "shortlog grep rev-list merge-base name-rev for-each-ref show-ref count-objects var "
    "check-ignore check-attr diff-tree diff-files diff-index whatchanged cherry "
    "show-branch range-diff version"
)
# Flags of read-only subcommands that write a file or run a program.
_RISKY_READ_FLAGS = ("--output", "--ext-diff", "--open-files-in-pager", "--exec")
_GLOBAL_VALUE = frozenset({"--git-dir", "--work-tree", "--namespace", "--super-prefix"})
_GLOBAL_FLAGS = names(
    "--no-pager -P -p --paginate --bare --no-replace-objects --literal-pathspecs "
    "--glob-pathspecs --noglob-pathspecs --icase-pathspecs --no-optional-locks "
    "--no-lazy-fetch --no-advice"
)
_NETWORK = frozenset({"fetch", "pull", "clone", "ls-remote", "remote-update", "submodule"})
_BRANCH_READ = names("-a -r -v -l -i --all --remotes --verbose --list --ignore-case")
_BRANCH_READ_VALUES = (
    "--contains",
    "--no-contains",
    "--merged",
    "--no-merged",
    "--points-at",
    "--sort",
    "--format",
)
_BRANCH_OTHER_READ = frozenset({"--show-current", "--color", "--no-color", "--column", "--abbrev"})
_CONFIG_READ = ("--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l")


def analyse_git(inv: Inv, an: Analysis) -> None:
    args, shell = inv.args, inv.shell.copy()
    dirs: list[Path | None] = []  # --git-dir / --work-tree targets
    i = 0
    while i < len(args):
        value = args[i].literal
        if value is None:
            an.ask(
                inv.display, "unknown:dynamic-argument", "has a git option known only at run time"
            )
            return
        if not value.startswith("-"):
            break
        if value == "-C" and i + 1 < len(args):
            target = args[i + 1].literal
            shell.cwd = an.resolve(target, shell) if target else None
            i += 2
            continue
        if value.startswith(("-c", "--config-env", "--exec-path")):
            what = "sets git configuration on the command line, which can make git run any program"
            an.ask(inv.display, "exec:git-config", what)
            return
        name, eq, attached = value.partition("=")
        if name in ("--git-dir", "--work-tree"):
            target = attached if eq else (args[i + 1].literal if i + 1 < len(args) else None)
            dirs.append(an.resolve(target, shell) if target else None)
        if value in _GLOBAL_VALUE:
            i += 2
            continue
        if value in _GLOBAL_FLAGS or name in _GLOBAL_VALUE:
            i += 1
            continue
        if value in ("--version", "--help", "-h") and i == len(args) - 1:
            an.allow(inv.display, "safe:git-version")
            return
        an.ask(inv.display, "unknown:git-option", f"uses the git option {value} we do not know")
        return
    if i == len(args):
        an.ask(inv.display, "unknown:git", "runs git without a subcommand")
        return
    foreign = _foreign_repository(an, [shell.cwd, *dirs])
    if foreign is not None:
        what = f"runs git in {foreign}, a repository other than the work directory's"
        an.ask(inv.display, "exec:git-embedded-repo", what + " (its config can run commands)")
        return
    sub = args[i].literal or "?"
    _subcommand(sub, args[i + 1 :], Inv(inv.name, inv.args, inv.display, shell), an)


def _repository_of(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that has a ``.git`` or is a git dir."""
    for folder in (path, *path.parents):
        if os.path.lexists(folder / ".git") or _is_git_dir(folder):
            return folder
    return None


def _is_git_dir(folder: Path) -> bool:
    has = os.path.exists
    return has(folder / "HEAD") and (has(folder / "config") or has(folder / "objects"))


def _foreign_repository(an: Analysis, places: list[Path | None]) -> Path | None:
    """A place git would run in whose repository is not the work directory's own:
    an embedded repository (``vendor/lib/.git``, ``vendor/lib.git``) brings its own
    config (``core.fsmonitor``, ``core.worktree``), which git obeys even for
    ``status``. A place known only at run time counts as foreign."""
    home = _repository_of(an.workdir)
    own = {home, home / ".git"} if home is not None else set()
    for place in places:
        if place is None:
            return Path("?")
        found = _repository_of(place)
        if found is not None and found not in own:
            return found
    return None


def _subcommand(sub: str, rest: list[Arg], inv: Inv, an: Analysis) -> None:
    opts = parse_options(rest)
    if opts.dynamic:
        an.ask(inv.display, "unknown:dynamic-argument", "has an argument known only at run time")
        return
    _file_reads(sub, rest, inv, an)
    if sub in _READ_ONLY:
        risky = [f for f in _RISKY_READ_FLAGS if opts.has(f)]
        if sub == "grep" and "O" in opts.short_chars():
            risky.append("-O")
        if risky:
            an.ask(inv.display, f"write:git-{sub}-flag", f"uses {risky[0]}, which writes or runs")
            return
        an.allow(inv.display, f"safe:git-{sub}")
        return
    reader = _READERS.get(sub)
    if reader is not None and reader(opts):
        an.allow(inv.display, f"safe:git-{sub}")
        return
    _writer(sub, opts, inv, an)


def _file_reads(sub: str, rest: list[Arg], inv: Inv, an: Analysis) -> None:
    """Files git reads by name: `diff --no-index A B`, `grep --no-index PAT [PATHS]`,
    `blame --contents F`, `commit|tag|merge -F F`."""
    if sub in ("commit", "tag", "merge", "notes"):
        opts = parse_options(rest, short_values="Fm", long_values=("--file", "--message"))
        for source in opts.values("-F", "--file"):
            an.read(source, inv.shell, inv.display)
        return
    opts = parse_options(rest, long_values=("--contents",))
    for source in opts.values("--contents"):
        an.read(source, inv.shell, inv.display)
    if opts.has("--no-index") and sub in ("diff", "grep"):
        paths = opts.operands[1:] if sub == "grep" else opts.operands
        for path in paths or [Arg(".", ".")]:
            an.read(path, inv.shell, inv.display, recursive=True)


def _branch_reads(opts: Options) -> bool:
    listing = opts.has(*_BRANCH_READ_VALUES) or opts.has("-l", "--list", "-a", "-r", "--all")
    for flag, _ in opts.flags:
        known = flag in _BRANCH_READ or flag in _BRANCH_OTHER_READ
        if not known and not any(flag == f or flag.startswith(f) for f in _BRANCH_READ_VALUES):
            return False
    return not opts.operands or listing


def _tag_reads(opts: Options) -> bool:
    allowed = {"-l", "--list", "-n", "--sort", "--contains", "--no-contains", "--points-at"}
    allowed |= {"--merged", "--no-merged", "--format", "--column", "--no-column", "-i"}
    if any(flag not in allowed and not flag[1:].isdigit() for flag, _ in opts.flags):
        return False
    return not opts.operands or opts.has("-l", "--list")


def _remote_reads(opts: Options) -> bool:
    words = [a.literal for a in opts.operands]
    if any(flag not in ("-v", "--verbose") for flag, _ in opts.flags):
        return False
    return not words or words[0] == "get-url"


def _config_reads(opts: Options) -> bool:
    words = [a.literal for a in opts.operands]
    if words and words[0] in ("get", "list"):
        return not opts.has("--edit", "-e")
    return opts.has(*_CONFIG_READ) and not opts.has("--edit", "-e", "--add", "--unset")


def _sub_reads(*allowed: str, default: bool = False) -> Callable[[Options], bool]:
    def check(opts: Options) -> bool:
        words = [a.literal for a in opts.operands]
        return (not words and default) or (bool(words) and words[0] in allowed)

    return check


_READERS = {
    "branch": _branch_reads,
    "tag": _tag_reads,
    "remote": _remote_reads,
    "config": _config_reads,
    "stash": _sub_reads("list", "show"),
    "worktree": _sub_reads("list"),
    "reflog": _sub_reads("show", default=True),
    "notes": _sub_reads("list", "show", default=True),
}


def _writer(sub: str, opts: Options, inv: Inv, an: Analysis) -> None:
    shell = inv.shell
    if sub == "push":
        force = opts.has("--force", "--force-with-lease", "--force-if-includes", "--mirror")
        force |= bool({"f", "d"} & opts.short_chars()) or opts.has("--delete", "--prune")
        force |= any((a.literal or "").startswith(("+", ":")) for a in opts.operands)
        if force:
            an.ask(inv.display, "net:git-push-force", "rewrites or deletes history on a remote")
        else:
            an.ask(inv.display, "net:git-push", "publishes commits to a remote")
        return
    if sub in ("rm", "mv"):
        for operand in opts.operands:
            an.write(operand, shell, inv.display)
    else:
        _repo_write(an, shell)
    rule, what = _write_rule(sub, opts)
    an.ask(inv.display, rule, what)


def _write_rule(sub: str, opts: Options) -> tuple[str, str]:
    if sub == "clean":
        return "write:git-clean", "deletes untracked files"
    if sub == "reset" and opts.has("--hard", "--merge", "--keep"):
        return "write:git-reset-hard", "discards uncommitted changes"
    if sub == "checkout" and (opts.has("-f", "--force") or _discards(opts)):
        return "write:git-checkout-discard", "overwrites files in the working tree"
    if sub in _NETWORK:
        return f"net:git-{sub}", "talks to a remote and changes the repository"
    if sub in _READERS or sub in _KNOWN_WRITERS:
        return f"write:git-{sub}", "changes the repository or the working tree"
    return "unknown:git-subcommand", f"runs `git {sub}`, not known to be read-only (maybe an alias)"


def _discards(opts: Options) -> bool:
    """`git checkout -- f`, `git checkout .`, `git checkout main f`: paths get overwritten."""
    words = [a.literal for a in opts.operands]
    return opts.dashdash or "." in words or len(words) > 1


def _repo_write(an: Analysis, shell: Shell) -> None:
    an.record(str(shell.cwd) if shell.cwd is not None else "?")


_KNOWN_WRITERS = names(
    "add commit rm mv restore checkout switch reset clean merge rebase cherry-pick revert am "
    "apply init gc prune update-ref update-index filter-branch bisect sparse-checkout "
    "maintenance archive bundle format-patch fsck help lfs replace repack symbolic-ref "
    "pack-refs read-tree write-tree commit-tree hash-object mktag mktree"
)
