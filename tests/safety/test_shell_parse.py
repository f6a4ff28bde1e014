"""Parsing and word expansion: the tree-sitter layer, the checks that the tree is
the command bash would run, and what each word expands to."""

from __future__ import annotations

import random
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mnemocode.safety.shell import analyse_command
from mnemocode.safety.shell.misread import misread
from mnemocode.safety.shell.parse import language, parse
from mnemocode.safety.shell.reads import sed_script_is_safe

WORKDIR = Path("/work/project")
HOME = Path("/home/user")


def verdict_of(command: str) -> tuple[str, str]:
    verdict = analyse_command(command, cwd=WORKDIR, home=HOME)
    return verdict.action, verdict.rule


def writes_of(command: str) -> tuple[str, ...]:
    return analyse_command(command, cwd=WORKDIR, home=HOME).writes


def commands_of(command: str) -> tuple[str, ...]:
    return analyse_command(command, cwd=WORKDIR, home=HOME).commands


# ---- the parser ----------------------------------------------------------------------


def test_importing_the_package_loads_neither_tree_sitter_nor_the_analyser() -> None:
    code = (
        "import sys, mnemocode.safety.shell as s; "
        "print('tree_sitter' in sys.modules, 'mnemocode.safety.shell.walk' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_the_language_is_built_once() -> None:
    assert language() is language()


def test_parsers_are_per_thread_and_agree() -> None:
    commands = ["ls -la", "rm -rf /", "git status", "curl x | sh"] * 25
    expected = [verdict_of(c) for c in commands]
    results: list[list[tuple[str, str]]] = []

    def work() -> None:
        results.append([verdict_of(c) for c in commands])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("python3 - <<EOF\nx\nEOF\n", "text the parser skipped: -"),  # it loses the "-"
        ("tr\\\nuncate -s 0 f", "a line continuation inside a word"),
        ("ls\rrm x", "text the parser skipped: '\\r'"),
        ("\r", "text the parser ignored"),
        ("sha256sum\n\\xEOF\n file", "one word the parser split in two"),
        ("ls\n\\\nrm x", "a line break inside one command"),
        ("bash -lc 'ls|head'\\x", "one word the parser split in two"),
        ("git branch >&--show-current", "a closed descriptor followed by a word"),
        ("time<& -eqrm", "a closed descriptor followed by a word"),
        ("export]] X", "the keyword 'export' joined to a word"),
        ("![ -d src ]", "the keyword '!' joined to a word"),
        ("[ \nEOF\n-d src ]", "a line break inside [ ]"),
        ("[ -d sr||c ]", "a shell operator inside [ ]"),
        ("x=$\n  l\n", "a blank inside one word"),
        ("git remote -v2>&1", "a descriptor number joined to a word"),
        ("[-d src ]", "a test bracket joined to a word"),
        ("[ -d src]", "a test bracket joined to a word"),
        ("[ -f a >> b ]", "a redirection inside [ ]"),
        ("[ a >= b ]", "a redirection inside [ ]"),
        ("cat <<$X\n$(rmx)\n$\\X\nEOF\n", "a here-document that ends where bash would not end it"),
        ("cat <<$X\n$(rm x)\n$X\n", "an expansion in a here-document the parser left as text"),
        ("{ls;}", "a brace joined to a word"),
        ("ttouch[ab] =ls", "blanks inside an assignment"),
        ('echo "$\\\n(rm x)"', "a line continuation right after $"),
    ],
)
def test_text_the_parser_reads_differently_is_found(source: str, problem: str) -> None:
    data = source.encode()
    assert misread(parse(data).root_node, data) == problem


@pytest.mark.parametrize(
    "source",
    [
        "ls -la \\\n  src",
        "ls |\\\ngrep x",
        'echo "a\nb"',
        "cat <<'X'\n$(rm y) \\\nX\n",
        "cat <<X\n$(date) and ${HOME} and $((1 + 2))\nX\n",
        "ls  # c",
        "{ ls; }",
        "[ -f a ] && [[ b > c ]]",
        "ls 2>&- >&2 <&-",
        "for x in a;do ls;done",
        "if true;then ls;fi",
        "! ls && [ ! -f x ] && [[ ! -d y ]] && [ a != b ]",
        "(! ls)",
    ],
)
def test_ordinary_layout_is_not_flagged(source: str) -> None:
    data = source.encode()
    assert misread(parse(data).root_node, data) is None


@pytest.mark.parametrize(
    "command",
    ["echo 'unterminated", 'echo "unterminated', "ls )", "if then rm x", "echo !(x)", "(ls"],
)
def test_syntax_errors_ask(command: str) -> None:
    assert verdict_of(command) == ("ask", "unknown:syntax")


def test_a_syntax_error_does_not_hide_a_catastrophe() -> None:
    assert verdict_of("rm -rf / ; echo 'unterminated")[0] == "deny"


def test_empty_input_runs_nothing() -> None:
    assert verdict_of("") == ("allow", "safe:empty")
    assert verdict_of("  # just a comment\n") == ("allow", "safe:empty")


# ---- words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("echo \"a\"'b'c\\ d", "echo 'abc d'"),
        ('echo "a\\"b\\$c"', "echo 'a\"b$c'"),
        ("echo $'a\\tb'", "echo 'a\tb'"),
        ("echo ~", "echo /home/user"),
        ("echo ~/x", "echo /home/user/x"),
        ('echo "$HOME/x"', "echo /home/user/x"),
        ("echo ${HOME}", "echo /home/user"),
        ("echo $PWD", "echo /work/project"),
        ("cd src && echo $PWD", "echo /work/project/src"),
        ("echo '~'", "echo '~'"),
        ("echo $X", "echo $X"),
        ("echo *.py", "echo *.py"),
    ],
)
def test_words_expand_like_bash(command: str, shown: str) -> None:
    assert shown in commands_of(command)


@pytest.mark.parametrize(
    ("command", "write"),
    [
        ("rm ~/x", "/home/user/x"),
        ('rm "$HOME"/x', "/home/user/x"),
        ("rm ${HOME}/x", "/home/user/x"),
        ("dd if=a of=~/x", "/home/user/x"),
        ("rm ./a/../b", "/work/project/b"),
        ("rm //etc/x", "/etc/x"),
        ("rm ~other/x", "?"),
        ("rm $X", "?"),
        ('rm "$X"/y', "?"),
        ("rm {a,b}", "?"),
        ("rm x{1..3}", "?"),
        ("rm *.pyc", "?"),
        ("rm $(cat list)", "?"),
        ("rm '~'", "/work/project/~"),
        ("rm '*.pyc'", "/work/project/*.pyc"),
    ],
)
def test_write_targets_resolve_or_are_unknown(command: str, write: str) -> None:
    assert writes_of(command) == (write,)


def test_assigning_home_makes_tilde_unknown() -> None:
    assert writes_of("export HOME=/tmp/h; rm ~/x") == ("?",)
    assert writes_of("read HOME; rm $HOME/x") == ("?",)
    assert writes_of("for PWD in a; do rm $PWD/x; done") == ("?",)


def test_a_glob_that_may_start_with_a_dash_counts_as_a_possible_flag() -> None:
    # A file named "--pre=sh" in the folder would turn `rg foo *` into `rg foo --pre=sh`.
    assert verdict_of("rg foo *")[0] == "ask"
    assert verdict_of("rg foo src/*.py")[0] == "allow"
    assert verdict_of("ls *")[0] == "allow"  # ls has no dangerous flag


# ---- sed scripts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    ["1,5p", "p", "$p", "/foo/p", "/a/,/b/d", "10q", "s/a/b/g", "s|a|b|2", "y/ab/cd/", "/x/{p;q}"],
)
def test_safe_sed_scripts(script: str) -> None:
    assert sed_script_is_safe(script)


@pytest.mark.parametrize(
    "script",
    ["w out", "s/a/b/w out", "s/a/b/e", "e ls", "1r /etc/passwd", "xp", "s/a/b", "W x"],
)
def test_sed_scripts_that_write_or_run_are_not_safe(script: str) -> None:
    assert not sed_script_is_safe(script)


# ---- differential: what bash really runs ---------------------------------------------
#
# For commands the analyser allows, run them with real bash inside bubblewrap (read-only
# root, a private /tmp, no network), every program on PATH replaced by a stub that logs
# its argv. Everything bash actually ran must be allowed on its own, and nothing may
# have been written. A fixed-seed sample of mutations of ordinary commands is included:
# that is how the tree-sitter discrepancies handled in misread.py were found.

_STUB = "#!/bin/bash\nprintf '%s\\037' \"${0##*/}\" \"$@\" $'\\036' >> /tmp/out/log.$$\n"
_DRIVER = r"""
/usr/bin/mkdir -p /tmp/work/src /tmp/home && cd /tmp/work && echo x > a && echo y > src/b.py
/usr/bin/touch /tmp/out/stamp && /usr/bin/sleep 0.01
command_not_found_handle() { printf '%s\037' "$@" $'\036' >> /tmp/out/log.$$; return 127; }
export -f command_not_found_handle
bash -c "$CMD" < /dev/null > /dev/null 2>&1
/usr/bin/find /tmp -newer /tmp/out/stamp -not -path '/tmp/out*' -not -path '/tmp/stubs*' \
  > /tmp/out/written
"""
_MUTATIONS = [*" ;&|\n$()`'\"\\<>*?~{}[]#=-", "$(", "\\\n", "<<EOF\n", "\nEOF\n", "rm", "2>"]


def _program_names() -> set[str]:
    from mnemocode.safety.shell import interp, reads, tools, wrappers, writes

    found = set(reads.PLAIN) | set(reads.CHECKED) | set(writes.WRITERS) | set(wrappers.HANDLERS)
    found |= set(interp.LANGUAGES) | {"python", "python3", "git", "perl", "rm", "curl"}
    found |= tools.RUNNERS | tools.FETCHERS | set(tools.PACKAGE_MANAGERS)
    return {n for n in found if "/" not in n} - {"bash", "sh", ":", "[", "."}


def _sample() -> list[str]:
    from tests.safety.test_shell_analysis import READ_ONLY

    rng = random.Random(1234)
    sample = list(READ_ONLY)
    while len(sample) < len(READ_ONLY) + 400:
        chars = list(rng.choice(READ_ONLY))
        for _ in range(rng.randint(1, 3)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(_MUTATIONS))
        sample.append("".join(chars))
    return [c for c in sample if verdict_of(c)[0] == "allow"]


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is required: .ci/run installs it")
    folder = tmp_path_factory.mktemp("stubs")
    for name in _program_names():
        (folder / name).write_text(_STUB)
        (folder / name).chmod(0o755)
    for shell in ("bash", "sh"):
        (folder / shell).symlink_to(shutil.which("bash") or "/bin/bash")
    return folder


def _run_in_bash(command: str, stubs: Path, out: Path) -> tuple[list[list[str]], str]:
    out.mkdir()
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs"]
    argv += ["/tmp", "--ro-bind", str(stubs), "/tmp/stubs", "--bind", str(out), "/tmp/out"]
    argv += ["--unshare-all", "--die-with-parent", "--clearenv", "--setenv", "PATH"]
    argv += ["/tmp/stubs", "--setenv", "HOME", "/tmp/home", "--setenv", "CMD", command]
    subprocess.run(
        [*argv, "/bin/bash", "-c", _DRIVER], capture_output=True, timeout=20, check=False
    )
    log = b"".join(f.read_bytes() for f in sorted(out.glob("log.*")))
    ran = [
        [part.decode("utf-8", "replace") for part in record.split(b"\x1f")[:-1]]
        for record in log.split(b"\x1e\x1f")
        if record
    ]
    written = (out / "written").read_text() if (out / "written").exists() else "(no listing)"
    return ran, written


def test_bash_runs_nothing_the_analyser_did_not_allow(stubs: Path, tmp_path: Path) -> None:
    problems = []
    commands = _sample()
    assert len(commands) > 150
    for index, command in enumerate(commands):
        ran, written = _run_in_bash(command, stubs, tmp_path / str(index))
        for argv in ran:
            judged = verdict_of(shlex.join(argv)) if argv else ("ask", "empty")
            if judged[0] != "allow":
                problems.append(f"{command!r}: bash ran {argv} ({judged[1]})")
        if written.strip():
            problems.append(f"{command!r}: bash wrote {written.split()}")
    assert not problems, "\n".join(problems)
