"""The bubblewrap sandbox: the local sandbox's process handling, with the command
inside `bwrap` — the root file system read-only, the work directory (and extra
allowed paths) and a private /tmp writable, optionally no network."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnemocode.core.protocols import CommandSpec
from mnemocode.safety.sandbox import LocalSandbox


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


class BubblewrapSandbox(LocalSandbox):
    def __init__(
        self,
        *,
        writable: Sequence[Path] = (),
        network: bool = True,
        bwrap: str | None = None,
        **local: Any,
    ) -> None:
        super().__init__(**local)
        found = bwrap or bwrap_path()
        if found is None:
            raise FileNotFoundError(
                "bwrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
            )
        self.bwrap = found
        self.writable = [p.resolve() for p in writable]
        self.network = network

    def argv(self, spec: CommandSpec) -> list[str]:
        args = [
            self.bwrap,
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--die-with-parent",
        ]
        # /tmp is private inside; a Python environment living under it (a CI
        # checkout, say) must stay visible, read-only, for the tools it runs.
        for keep in dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix)):
            if keep.is_relative_to("/tmp") and keep.exists():
                args += ["--ro-bind", str(keep), str(keep)]
        binds = [*self.writable, spec.cwd.resolve()]
        if spec.log_dir is not None:
            spec.log_dir.mkdir(parents=True, exist_ok=True)
            binds.append(spec.log_dir.resolve())
        for path in dict.fromkeys(binds):
            if path.exists():
                args += ["--bind", str(path), str(path)]
        if not self.network:
            args.append("--unshare-net")
        args += ["--chdir", str(spec.cwd.resolve()), "--", *super().argv(spec)]
        return args
