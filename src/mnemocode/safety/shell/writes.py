"""Commands that change files: every target argument is classified, and deleting
(or recursively re-permissioning) /, ~, the work directory or a system folder is
denied outright."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mnemocode.safety.shell.options import parse_options
from mnemocode.safety.shell.state import Analysis, Inv
from mnemocode.safety.shell.verdict import Arg, names

Writer = Callable[[Inv, Analysis], None]

_WILDCARDS = frozenset({"*", "**", ".*"})
_MODE_FLAG = frozenset("rwxXstugoa=+,-0123456789")


def _targets(inv: Inv, an: Analysis, targets: list[Arg]) -> list[Path | None]:
    return [an.write(t, inv.shell, inv.display) for t in targets] or [None]


def _describe(targets: list[Arg]) -> str:
    shown = ", ".join(t.show() for t in targets[:3])
    return shown + (", ..." if len(targets) > 3 else "") if shown else "files"


def wipes(an: Analysis, arg: Arg, path: Path | None, inv: Inv) -> str | None:
    """The protected folder ``arg`` would destroy, if any (``~``, ``/*``, ``.``...)."""
    if path is not None and an.is_protected(path):
        return str(path)
    value = arg.value
    if not arg.glob or value is None:
        return None
    parts = value.split("/")
    first = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts))
    if first == len(parts) or not all(p in _WILDCARDS for p in parts[first:] if p):
        return None
    base = "/".join(parts[:first]) or ("/" if value.startswith("/") else ".")
    resolved = an.resolve(base, inv.shell)
    return str(resolved) if resolved is not None and an.is_protected(resolved) else None


def _deny_wipe(inv: Inv, an: Analysis, what: str, target: str, arg: Arg) -> None:
    if arg.glob:
        what = f"{what} everything in"
    if target == "/":
        rule = "deny:rm-root"
    elif Path(target) == an.home_dir:
        rule = "deny:rm-home"
    elif Path(target) == an.workdir:
        rule = "deny:rm-workdir"
    else:
        rule = "deny:rm-protected"
    an.deny(inv.display, rule, f"{what} {target}")


def _delete(inv: Inv, an: Analysis) -> None:
    opts = parse_options(inv.args)
    for operand in opts.operands:
        path = an.write(operand, inv.shell, inv.display)
        hit = wipes(an, operand, path, inv)
        if hit is not None:
            _deny_wipe(inv, an, "deletes", hit, operand)
    if opts.dynamic and not opts.operands:
        an.record("?")
    an.ask(inv.display, f"write:{inv.name}", f"deletes {_describe(opts.operands)}")


def _move(inv: Inv, an: Analysis) -> None:
    opts = parse_options(inv.args, short_values="tS", long_values=("--target-directory",))
    target_dir = opts.values("-t", "--target-directory")
    sources = opts.operands if target_dir else opts.operands[:-1]
    for operand in opts.operands:
        path = an.write(operand, inv.shell, inv.display)
        hit = wipes(an, operand, path, inv)
        if hit is not None and operand in sources:
            _deny_wipe(inv, an, "moves away", hit, operand)
    _targets(inv, an, target_dir)
    an.ask(inv.display, "write:mv", f"moves {_describe(opts.operands)}")


def _destination(short_values: str, rule: str, what: str) -> Writer:
    """`cp`, `ln`, `install`: the last operand (or -t DIR) is written."""

    def write(inv: Inv, an: Analysis) -> None:
        opts = parse_options(
            inv.args, short_values=short_values, long_values=("--target-directory",)
        )
        target_dir = opts.values("-t", "--target-directory")
        if target_dir:
            _targets(inv, an, target_dir)
        elif inv.name == "install" and opts.has("-d", "--directory"):
            _targets(inv, an, opts.operands)
        elif inv.name == "ln" and len(opts.operands) == 1:
            name = (opts.operands[0].literal or "?").rstrip("/").rsplit("/", 1)[-1]
            _targets(inv, an, [Arg(name if name != "?" else None, name)])
        elif len(opts.operands) >= 2 or opts.dynamic:
            _targets(inv, an, opts.operands[-1:] or [Arg(None, "?")])
        shown = _describe(target_dir or opts.operands[-1:])
        an.ask(inv.display, rule, f"{what} {shown}")

    return write


def _every_operand(short_values: str, rule: str, what: str) -> Writer:
    """`tee`, `touch`, `mkdir`, `truncate`: every operand is written."""

    def write(inv: Inv, an: Analysis) -> None:
        opts = parse_options(inv.args, short_values=short_values)
        _targets(inv, an, opts.operands)
        if opts.dynamic:
            an.record("?")
        an.ask(inv.display, rule, f"{what} {_describe(opts.operands)}")

    return write


def _permissions(inv: Inv, an: Analysis) -> None:
    opts = parse_options(inv.args, long_values=("--reference",))
    operands = opts.operands
    mode_in_flags = inv.name == "chmod" and any(
        len(flag) == 2 and flag[1] in _MODE_FLAG and flag[1] not in "Rvcf" for flag, _ in opts.flags
    )
    if not opts.has("--reference") and not mode_in_flags:
        operands = operands[1:]
    recursive = opts.has("-R", "--recursive")
    for operand in operands:
        path = an.write(operand, inv.shell, inv.display)
        hit = wipes(an, operand, path, inv)
        if hit is not None and hit != str(an.workdir) and (recursive or hit == "/"):
            an.deny(
                inv.display, f"deny:{inv.name}-protected", f"changes the owner or mode of {hit}"
            )
    if opts.dynamic:
        an.record("?")
    what = "changes the mode of" if inv.name == "chmod" else "changes the owner of"
    an.ask(inv.display, f"write:{inv.name}", f"{what} {_describe(operands)}")


def _dd(inv: Inv, an: Analysis) -> None:
    outputs = [a for a in inv.args if (a.value or "").startswith("of=")]
    for arg in outputs:
        value = arg.literal
        an.write(Arg(value[3:] if value else None, arg.raw), inv.shell, inv.display)
    if outputs:
        an.ask(inv.display, "write:dd", f"writes {outputs[0].show()[3:]}")
    else:
        an.ask(inv.display, "unknown:dd", "copies raw data (dd is not treated as read-only)")


def _unknown_targets(rule: str, what: str) -> Writer:
    """Archivers, patch, rsync ...: they write, but where depends on their input."""

    def write(inv: Inv, an: Analysis) -> None:
        an.record("?")
        if inv.name == "rsync":  # `host:path` or `rsync://`: a remote end
            an.network |= any(":" in (a.value or ":").split("/", 1)[0] for a in inv.args)
        an.ask(inv.display, rule, what)

    return write


def mkfs(inv: Inv, an: Analysis) -> None:
    an.deny(inv.display, "deny:mkfs", "formats or wipes a disk")


WRITERS: dict[str, Writer] = {
    "rm": _delete,
    "shred": _delete,
    "unlink": _every_operand("", "write:unlink", "deletes"),
    "rmdir": _every_operand("", "write:rmdir", "removes the folders"),
    "mv": _move,
    "cp": _destination("tS", "write:cp", "copies onto"),
    "ln": _destination("tS", "write:ln", "creates the link"),
    "install": _destination("tSmog", "write:install", "installs onto"),
    "tee": _every_operand("", "write:tee", "writes to"),
    "touch": _every_operand("dtr", "write:touch", "creates or touches"),
    "mkdir": _every_operand("m", "write:mkdir", "creates the folders"),
    "mkfifo": _every_operand("m", "write:mkfifo", "creates"),
    "mknod": _every_operand("m", "write:mknod", "creates the device node"),
    "truncate": _every_operand("sr", "write:truncate", "truncates"),
    "chmod": _permissions,
    "chown": _permissions,
    "chgrp": _permissions,
    "dd": _dd,
    "patch": _unknown_targets("write:patch", "patches files"),
    "split": _unknown_targets("write:split", "writes the pieces of a file"),
    "csplit": _unknown_targets("write:split", "writes the pieces of a file"),
    "rsync": _unknown_targets("write:rsync", "copies files (possibly over the network)"),
    "scp": _unknown_targets("net:scp", "copies files over the network"),
    "sftp": _unknown_targets("net:scp", "copies files over the network"),
    "sqlite3": _unknown_targets("write:sqlite3", "can change a database"),
    **{
        name: _unknown_targets("write:archive", "extracts, creates or compresses files")
        for name in names(
            "tar gzip gunzip bzip2 bunzip2 xz unxz zstd unzstd lz4 zip unzip 7z 7za ar "
            "cpio pigz rar unrar"
        )
    },
    **{
        name: mkfs
        for name in names(
            "mkfs mke2fs mkswap wipefs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs mkfs.btrfs "
            "mkfs.vfat mkfs.fat mkfs.ntfs mkfs.exfat mkfs.f2fs mkdosfs"
        )
    },
}
