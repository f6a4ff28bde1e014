"""Everything else with a name we know: package managers, build and test runners,
network clients, services. They all ask — running tests or builds executes
project code — but the rule id says why; a few read-only subcommands run."""

from __future__ import annotations

import re

from mnemocode.safety.shell.options import parse_options
from mnemocode.safety.shell.state import NOTHING, Analysis, Effects, Inv
from mnemocode.safety.shell.verdict import names

# Package managers, and their subcommands that only read.
PACKAGE_MANAGERS: dict[str, frozenset[str]] = {
    name: names(reads)
    for name, reads in {
        "pip": "list show freeze check help",
        "pip3": "list show freeze check help",
        "npm": "ls list help view outdated",
        "pnpm": "ls list help outdated",
        "yarn": "list help info",
        "bun": "pm",
        "uv": "help",
        "poetry": "show help",
        "pipx": "list",
        "cargo": "tree metadata help",
        "go": "version env help doc",
        "gem": "list help",
        "bundle": "list",
        "brew": "list info help search",
        "apt": "list show search policy",
        "apt-get": "",
        "dnf": "list info search",
        "yum": "list info search",
        "pacman": "",
        "apk": "info search",
        "conda": "list info",
        "mamba": "list info",
        "composer": "show",
        "dotnet": "--info",
        "nix": "",
        "snap": "list info",
        "flatpak": "list info",
    }.items()
}
INSTALL_VERBS = names(
    "install i in add ci uninstall remove rm un update upgrade up sync get reinstall link "
    "unlink purge autoremove -S -R -U -Sy -Syu -Rs"
)
RUNNERS = names(
    """
    make cmake ninja meson pytest py.test tox nox mvn gradle gradlew ant bazel just task
    npx pnpx bunx deno swift rake mix stack cabal ruff mypy pyright black isort flake8 pylint
    eslint prettier tsc jest vitest mocha phpunit rspec javac java gcc g++ cc c++ clang
    clang++ rustc ghc kotlinc scalac zig tsx ts-node uvx hatch pdm rye
    """
)
# Runners that fetch the package they run when it is not installed.
_DOWNLOADING_RUNNERS = names("npx pnpx bunx uvx")
NETWORK = names("nc ncat netcat telnet ssh ftp socat ping traceroute nslookup dig host whois nmap")
SERVICES = names(
    """
    systemctl service launchctl crontab at batch docker podman kubectl helm terraform
    ansible ansible-playbook vagrant mount umount swapon swapoff sysctl modprobe insmod
    rmmod iptables nft ufw useradd userdel usermod groupadd passwd chpasswd visudo
    fdisk sfdisk parted gdisk losetup cryptsetup
    """
)
POWER = names("shutdown reboot halt poweroff init telinit")
PROCESS = names("kill pkill killall xkill renice")
EDITORS = names("vi vim nvim nano emacs ed ex code subl micro less more man")
FETCHERS = names("curl wget fetch http https xh aria2c lynx w3m links")
OTHER_GROUPS = (NETWORK, SERVICES, POWER, PROCESS, EDITORS)
# `--version` (and these spellings) is safe for every name this module knows.
_VERSION_ARGS = frozenset({"--version", "-V", "-VV", "version", "-version"})
_VERSION_V = re.compile(r"(python|pypy)[\d.]*|node|nodejs|npm|pnpm|yarn|perl|ruby|gcc|clang|php")


def is_version_query(name: str, words: list[str | None]) -> bool:
    if len(words) != 1 or words[0] is None:
        return False
    word = words[0]
    return word in _VERSION_ARGS or (word == "-v" and _VERSION_V.fullmatch(name) is not None)


def known_tool(name: str) -> bool:
    return (
        name in PACKAGE_MANAGERS
        or name in RUNNERS
        or name in FETCHERS
        or name in ("git", "perl", "ruby", "node", "nodejs", "php", "lua", "bash", "zsh", "sh")
        or re.fullmatch(r"(python|pypy)[\d.]*", name) is not None
    )


def classify_tool(inv: Inv, an: Analysis) -> Effects:
    name, display = inv.name, inv.display
    if name in PACKAGE_MANAGERS:
        _package_manager(inv, an)
    elif name in FETCHERS:
        return _fetcher(inv, an)
    elif name in RUNNERS:
        an.network |= name in _DOWNLOADING_RUNNERS
        an.ask(display, f"exec:{name}", "runs project code (builds, tests and tools execute code)")
    elif name in NETWORK:
        an.ask(display, f"net:{name}", "talks to other machines over the network")
    elif name in SERVICES:
        an.ask(display, f"system:{name}", "changes system services, devices or accounts")
    elif name in POWER:
        an.ask(display, "system:power", "shuts down or restarts the machine")
    elif name in PROCESS:
        an.ask(display, "system:kill", "signals or re-prioritises running processes")
    elif name in EDITORS:
        an.ask(display, f"exec:{name}", "opens an interactive program")
    else:
        an.ask(display, "unknown:command", "is not a known read-only command")
    return NOTHING


def _package_manager(inv: Inv, an: Analysis) -> None:
    opts = parse_options(inv.args)
    words = [a.literal for a in opts.operands]
    flags = [f for f, _ in opts.flags]
    verb = words[0] if words else (flags[0] if flags else None)
    if inv.name in ("uv", "pip", "pip3") and words[:2] in (["pip", "list"], ["pip", "show"]):
        verb = "list"
    if not opts.dynamic and verb in PACKAGE_MANAGERS[inv.name]:
        an.allow(inv.display, f"safe:{inv.name}-{verb}")
    elif verb in INSTALL_VERBS or (inv.name == "pacman" and verb and verb.startswith("-S")):
        an.network = True  # packages come from a registry
        an.ask(inv.display, "write:package-install", "installs or removes packages")
    else:
        an.ask(inv.display, f"exec:{inv.name}", "runs package or project scripts")


def _fetcher(inv: Inv, an: Analysis) -> Effects:
    if inv.name == "curl":
        opts = parse_options(
            inv.args,
            short_values="AbcCdDeEFHKmorTuUwxXyYzQP",
            long_values=("--output", "--dump-header", "--cookie-jar", "--trace", "--trace-ascii"),
        )
        outputs = opts.values("-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar")
        outputs += opts.values("--trace", "--trace-ascii")
        if opts.has("-O", "--remote-name", "--remote-name-all", "-J"):
            an.record("?")
    elif inv.name == "wget":
        opts = parse_options(
            inv.args,
            short_values="OoaPeBDIlQtTUwX",
            long_values=("--output-document", "--output-file", "--directory-prefix"),
        )
        outputs = opts.values("-O", "--output-document", "-o", "--output-file", "-a")
        if not opts.has("-O", "--output-document", "--spider"):
            an.record("?")  # saved under the remote name, in the cwd or -P
    else:
        opts = parse_options(inv.args)
        outputs = []
        an.record("?")
    for output in outputs:
        if output.literal != "-":
            an.write(output, inv.shell, inv.display)
    an.ask(inv.display, f"net:{inv.name}", "downloads from or sends data over the network")
    return Effects(fetches=True)
