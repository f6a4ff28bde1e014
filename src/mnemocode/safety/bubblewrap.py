"""The bubblewrap sandbox: the local sandbox's process handling, with the command
inside ``bwrap`` mounted as a ``Confinement`` says (``confinement.py``): the root
read-only, the work directory writable but for its protected paths, a private
``/tmp``, credential stores and mnemo's home invisible, a new PID namespace (the
parent's ``/proc/<pid>/environ`` is out of reach) and, unless the command was
granted it, no network.

A command whose ``cwd`` is outside the writable roots is refused: the directory a
command runs in is never made writable because it was asked for.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mnemocode.core.errors import ToolDenied
from mnemocode.core.protocols import CommandResult, CommandSpec
from mnemocode.safety.confinement import Confinement, Scan, remove_planted
from mnemocode.safety.sandbox import LocalSandbox, Process, launch
from mnemocode.safety.warm import ExecutorGone, WarmPool


def bwrap_path() -> str | None:
    """``bwrap`` where it is installed and can start a sandbox here (some hosts
    forbid the user namespaces it needs), else None."""
    found = shutil.which("bwrap")
    return found if found is not None and not bwrap_problem() else None


@functools.cache
def bwrap_problem() -> str:
    """Why ``bwrap`` cannot start a sandbox on this machine ("" when it can)."""
    found = shutil.which("bwrap")
    if found is None:
        return "not installed"
    probe = [found, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    probe += ["--unshare-pid", "--unshare-net", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


class BubblewrapSandbox(LocalSandbox):
    """``network``: the default for commands not granted it per ``CommandSpec``.
    Without a ``confinement`` (the runtime's adapter, older callers), the writable
    roots are ``writable`` plus the command's own directory, and nothing is hidden."""

    def __init__(
        self,
        *,
        confinement: Confinement | None = None,
        writable: Sequence[Path] = (),
        network: bool = False,
        bwrap: str | None = None,
        warm: bool = True,
        **local: Any,
    ) -> None:
        super().__init__(**local)
        found = bwrap or bwrap_path()
        if found is None:
            raise FileNotFoundError(
                "bwrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
            )
        self.bwrap = found
        self.confinement = confinement
        self.writable = [p.resolve() for p in writable]
        self.network = network
        self._plan: list[tuple[str, str]] | None = None
        self._scan: Scan | None = None
        self._refresh: asyncio.Future[None] | None = None
        self._warm = WarmPool() if warm else None

    async def run(
        self, spec: CommandSpec, on_output: Callable[[str], None] | None = None
    ) -> CommandResult:
        plan = self.confinement
        if plan is None:
            return await super().run(spec, on_output)
        if not plan.allows_cwd(spec.cwd):
            raise ToolDenied(
                f"refused: {spec.cwd} is outside the work directory; commands run "
                "only inside it (the sandbox never makes another directory writable)",
                by="sandbox",
            )
        if self._refresh is not None and not self._refresh.done():
            await self._refresh  # usually long done: the model took its time
        watched = plan.absent_protected()
        try:
            result = await super().run(spec, on_output)
        finally:
            self._refresh_plan()
        removed = remove_planted(watched)
        if removed:
            shown = ", ".join(str(p) for p in removed)
            result.output += (
                f"\n[sandbox: removed {shown}: commands may not create protected files]\n"
            )
        return result

    def environment(self, spec: CommandSpec) -> dict[str, str]:
        env = super().environment(spec)
        return env if self.confinement is None else self.confinement.environment(env)

    def argv(self, spec: CommandSpec) -> list[str]:
        return [*self.prefix(spec), "--chdir", str(spec.cwd.resolve()), "--", *super().argv(spec)]

    def prefix(self, spec: CommandSpec) -> list[str]:
        """The bwrap arguments for ``spec``'s mounts, namespaces and network."""
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
            "--unshare-pid",
            "--unshare-ipc",
            "--new-session",
            "--die-with-parent",
        ]
        # /tmp is private inside; a Python environment living under it (a CI
        # checkout, say) must stay visible, read-only, for the tools it runs.
        for keep in dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix)):
            if keep.is_relative_to("/tmp") and keep.exists():
                args += ["--ro-bind", str(keep), str(keep)]
        args += self._mounts(spec)
        if not (self.network or spec.network):
            args.append("--unshare-net")
        return args

    async def _start(self, spec: CommandSpec, log_path: Path | None) -> tuple[Process, int]:
        """In the warm sandbox for these mounts (started if needed), else in a
        bwrap of its own (warm sandboxes off, or they cannot start here)."""
        if self._warm is None:
            return self._spawn(spec, log_path)
        env = self.environment(spec)
        executor = await self._warm.get(self.prefix(spec), env)
        if executor is None:
            return self._spawn(spec, log_path)
        command = LocalSandbox.argv(self, spec)
        try:
            return launch(
                spec,
                log_path,
                lambda out_fd: executor.spawn(command, spec.cwd.resolve(), env, out_fd),
            )
        except ExecutorGone:
            return self._spawn(spec, log_path)  # it died: this one in its own bwrap

    async def aclose(self) -> None:
        await super().aclose()
        if self._warm is not None:
            self._warm.close()

    def _mounts(self, spec: CommandSpec) -> list[str]:
        if self.confinement is None:
            args: list[str] = []
            for path in dict.fromkeys([*self.writable, spec.cwd.resolve()]):
                if path.exists():
                    args += ["--bind", str(path), str(path)]
            return args
        mounts = self._plan
        # The scanned part of the plan (embedded repositories) is the last command's,
        # refreshed behind it off the critical path, when everything it mounts is
        # still there; else it is made now. Credential stores are looked up each time.
        if mounts is None or not all(os.path.lexists(target) for _, target in mounts):
            self._scan = self.confinement.scan()
            mounts = self._plan = _plan_mounts(self.confinement, self._scan)
        out: list[str] = []
        for option, target in [*mounts, *_hidden_mounts(self.confinement)]:
            if option == "--tmpfs":
                out += [option, target]
            elif option == "--ro-bind-null":
                out += ["--ro-bind", os.devnull, target]
            else:
                out += [option, target, target]
        return out

    def _refresh_plan(self) -> None:
        """Make the next command's plan in a worker thread, while the model thinks."""
        if self.confinement is None or (self._refresh is not None and not self._refresh.done()):
            return
        plan = self.confinement

        def make() -> None:
            # Most commands create no folder: a stat of each folder scanned last
            # time tells, and the plan stands.
            if self._scan is None or not self._scan.unchanged():
                self._scan = plan.scan()
                self._plan = _plan_mounts(plan, self._scan)

        self._refresh = asyncio.get_running_loop().run_in_executor(None, make)


def _plan_mounts(plan: Confinement, scan: Scan) -> list[tuple[str, str]]:
    """(bwrap option, path) for the writable roots, the pinned git directories and
    the read-only parts of ``plan`` as the disk is now, in mount order."""
    mounts = [("--bind", str(root)) for root in plan.roots if root.exists()]
    mounts += [("--bind", str(path)) for path in dict.fromkeys(plan.pinned(scan))]
    mounts += [("--ro-bind", str(path)) for path in dict.fromkeys(plan.read_only(scan))]
    return mounts


def _hidden_mounts(plan: Confinement) -> list[tuple[str, str]]:
    """The credential stores as they are right now (cheap: a few dozen stats)."""
    return [
        ("--tmpfs" if path.is_dir() else "--ro-bind-null", str(path))
        for path in dict.fromkeys(plan.hidden_paths())
    ]
