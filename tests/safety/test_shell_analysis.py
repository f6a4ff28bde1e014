"""What the analyser concludes about ordinary commands: which run without asking,
which ask and why, every write target (following `cd`), and the commands found."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mnemocode.safety.shell import ShellVerdict, analyse_command

WORKDIR = Path("/work/project")
HOME = Path("/home/user")


def analyse(command: str) -> ShellVerdict:
    return analyse_command(command, cwd=WORKDIR, home=HOME)


# ---- known-safe commands run without asking ---------------------------------------------

READ_ONLY = [
    "ls -la",
    "ls -la src/ | head -50",
    "cat README.md",
    "head -n 20 src/main.py",
    "tail -n +5 file",
    "wc -l src/*.py",
    'grep -rn "def main" src/',
    "grep -rn TODO --include='*.py' .",
    'rg -n "foo" src',
    "rg --files | wc -l",
    "rg -l foo -g '*.py'",
    "rg --context 1 --heading foo",
    "ag foo",
    "find . -name '*.py' -not -path './.venv/*'",
    "find . -type f -name '*.md' | xargs wc -l",
    "find . -name '*.py' -exec grep -l foo {} +",
    "fd -e py",
    "tree -L 2",
    "echo hello",
    "printf '%s\\n' a b",
    "pwd",
    "which python",
    "type ls",
    "command -v rg",
    "printenv PATH",
    "date +%s",
    "uname -a",
    "whoami",
    "id",
    "file x.bin",
    "stat x",
    "du -sh .",
    "df -h",
    "sort x | uniq -c | sort -rn",
    "cut -d: -f1 /etc/passwd",
    "tr a-z A-Z < x",
    "diff a b",
    "cmp a b",
    "jq '.name' package.json",
    "sed -n '10,20p' file",
    "sed 's/foo/bar/g' file",
    "awk '{print $1}' file",
    "awk -F: '{print $1}' /etc/passwd",
    "base64 file",
    "sha256sum file",
    "xxd file | head",
    "seq 1 10",
    "sleep 1",
    "true && echo ok",
    "test -f x || echo missing",
    "[ -d src ] && ls src",
    "[[ -f x ]] && cat x",
    "set -euo pipefail; ls",
    "python --version",
    "python3 -V",
    "node --version",
    "cargo --version",
    "go version",
    "pip list",
    "npm ls",
    # git, read-only subcommands
    "git status",
    "git status --short",
    "git log --oneline -20",
    "git log -p -1 -- src/x.py",
    "git log --format='%H %s' -n 5",
    "git diff HEAD~1",
    "git diff --stat main...HEAD",
    "git show HEAD:src/x.py",
    "git blame src/x.py",
    "git branch",
    "git branch -a",
    "git branch --show-current",
    "git branch --list 'feat/*'",
    "git rev-parse HEAD",
    "git ls-files | head",
    "git remote -v",
    "git config --get user.name",
    "git stash list",
    "git tag -l",
    "git describe --tags",
    "git --no-pager log -5",
    "git -C sub status",
    "git grep -n foo",
    "/usr/bin/git status",
    # redirections to nowhere, pipes, lists, control flow
    "ls 2>/dev/null",
    "ls > /dev/null 2>&1",
    "echo oops >&2",
    "cat file | grep x | head",
    "cd src && ls",
    "(cd src && ls)",
    'for f in *.py; do echo "$f"; done',
    'ls -1 | while read f; do echo "$f"; done',
    "if [ -f x ]; then cat x; else echo no; fi",
    "case x in a) ls;; *) pwd;; esac",
    "x=1; echo $x",
    "export LC_ALL=C; sort x",
    "LC_ALL=C sort x",
    "GIT_PAGER=cat git log -3",
    "cat <<EOF\nhello $(date)\nEOF",
    "echo $(date)",
    'echo "`pwd`"',
    "echo $((1 + 2))",
    "f() { ls; }; f",
    # multi-line scripts as models write them
    "cd src\nls -la\n",
    "git log \\\n  --oneline \\\n  -5",
    "if [ -f x ]; then\n  cat x\nfi",
    "for f in *.py\ndo\n  echo $f\ndone",
    "cat file |\n  grep x",
    'while read -r line; do\n  echo "$line"\ndone < file.txt',
    'case "$1" in\n  a) ls ;;\n  *) pwd ;;\nesac',
    "{\n  echo a\n  echo b\n} | sort",
    "x=$(\n  ls\n)\necho $x",
    "cat <<'EOF'\n$(x) `y`\nEOF\n",
    # descriptor duplications onto stdout/stderr, arithmetic on numbers, globs
    "ls 2>&1 | head",
    "echo $((1+2))",
    "i=0; while (( i < 3 )); do (( i++ )); done",
    "for ((i=0; i<3; i++)); do echo $i; done",
    "for i in 1 2 3; do echo $((i * 2)); done",
    "[[ $# -eq 0 ]] && echo none",
    "cat src/*.py",
]


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_are_allowed(command: str) -> None:
    verdict = analyse(command)
    assert verdict.action == "allow", verdict
    assert verdict.rule.startswith("safe:")
    assert verdict.writes == ()


def test_the_allow_reason_names_the_command() -> None:
    verdict = analyse("git status")
    assert (verdict.rule, verdict.reason) == ("safe:git-status", "`git status` is read-only.")
    compound = analyse("ls && pwd")
    assert compound.rule == "safe:read-only"
    assert "`ls`" in compound.reason and "`pwd`" in compound.reason


# ---- asks, with the rule and the sub-command that decided --------------------------------


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("rm x", "write:rm"),
        ("ls > out", "write:redirect"),
        ("echo x >> log", "write:redirect"),
        ("touch f", "write:touch"),
        ("mkdir d", "write:mkdir"),
        ("cp a b", "write:cp"),
        ("mv a b", "write:mv"),
        ("ln -s a b", "write:ln"),
        ("tee f", "write:tee"),
        ("dd if=a of=b", "write:dd"),
        ("sort -o out in", "write:sort-output"),
        ("chmod +x f", "write:chmod"),
        ("chown u f", "write:chown"),
        ("truncate -s 0 f", "write:truncate"),
        ("sed -i s/a/b/ f", "write:sed-inplace"),
        ("perl -pi -e 's/a/b/' f", "write:perl-inplace"),
        ("git clean -fdx", "write:git-clean"),
        ("git reset --hard", "write:git-reset-hard"),
        ("git reset HEAD~1", "write:git-reset"),
        ("git checkout -- f", "write:git-checkout-discard"),
        ("git checkout main", "write:git-checkout"),
        ("git push --force origin main", "net:git-push-force"),
        ("git push origin main", "net:git-push"),
        ("git branch -D old", "write:git-branch"),
        ("git branch new", "write:git-branch"),
        ("git tag v1", "write:git-tag"),
        ("git stash", "write:git-stash"),
        ("git commit -m x", "write:git-commit"),
        ("git fetch", "net:git-fetch"),
        ("git frob", "unknown:git-subcommand"),
        ("git", "unknown:git"),
        ("git -c core.pager=less log", "exec:git-config"),
        ("git log --output=x", "write:git-log-flag"),
        ("npm install left-pad", "write:package-install"),
        ("pip install requests", "write:package-install"),
        ("apt-get install -y curl", "write:package-install"),
        ("npm test", "exec:npm"),
        ("pytest", "exec:pytest"),
        ("python -m pytest", "exec:python-module"),
        ("make", "exec:make"),
        ("cargo test", "exec:cargo"),
        ("python3 script.py", "exec:script"),
        ("python3 -c 'print(1)'", "exec:python3"),
        ("python3", "exec:stdin"),
        ("bash script.sh", "exec:script"),
        ("source .venv/bin/activate", "exec:source"),
        ("curl https://example.com", "net:curl"),
        ("ssh host", "net:ssh"),
        ("sudo ls", "exec:sudo"),
        ("rg --pre cat x", "exec:rg-pre"),
        ("find . -delete -name '*.pyc'", "write:find-delete"),
        ("find . -ok rm {} \\;", "exec:find-ok"),
        ("PATH=/tmp/bin ls", "env:assignment"),
        ("alias ll='ls -l'", "exec:alias"),
        ("frobnicate", "unknown:command"),
        ("$EDITOR x", "unknown:dynamic-command"),
        ("./run.sh", "exec:program-path"),
        ("kill 1234", "system:kill"),
        ('for f in $(ls); do wc -l "$f"; done', "unknown:dynamic-read"),
        ("wc -l $(git ls-files)", "unknown:dynamic-read"),
        ("cat $FILE", "unknown:dynamic-read"),
        ("env", "env:dump"),
        ("printenv", "env:dump"),
    ],
)
def test_commands_that_change_or_run_things_ask(command: str, rule: str) -> None:
    verdict = analyse(command)
    assert (verdict.action, verdict.rule) == ("ask", rule), verdict


def test_the_reason_names_the_sub_command_that_decided() -> None:
    verdict = analyse("ls && git status && rm build.log")
    assert verdict.action == "ask"
    assert verdict.reason == "`rm build.log` deletes build.log."
    assert "`git push` publishes" in analyse("git status; git push").reason


def test_the_most_severe_part_decides() -> None:
    assert analyse("ls; rm x").action == "ask"
    assert analyse("rm x; rm -rf ~; ls").rule == "deny:rm-home"
    assert analyse("rm -rf /; rm -rf ~").rule == "deny:rm-root"  # the first of the worst


def test_python_code_names_the_system_call() -> None:
    verdict = analyse("""python3 -c "import os; os.system('ls')" """)
    assert "calls os.system" in verdict.reason


# ---- write targets, following cd ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "writes"),
    [
        ("rm x", ("/work/project/x",)),
        ("cd src && rm x", ("/work/project/src/x",)),
        ("cd src; cd ../docs; rm x", ("/work/project/docs/x",)),
        ("cd /tmp && rm x", ("/tmp/x",)),
        ("cd && rm x", ("/home/user/x",)),
        ("pushd /tmp && rm x", ("/tmp/x",)),
        ("(cd src && rm a); rm b", ("/work/project/src/a", "/work/project/b")),
        ("cd src | cat; rm b", ("/work/project/b",)),  # a pipeline stage is a subshell
        ("cd src & rm b", ("/work/project/b",)),  # so is a background job
        ("cd a || cd b; rm x", ("?",)),
        ("if true; then cd a; fi; rm x", ("?",)),
        ("cd - && rm x", ("?",)),
        ('cd "$X" && rm y', ("?",)),
        ("f() { cd /tmp; }; f; rm x", ("?",)),
        ("rm /abs/x ../y", ("/abs/x", "/work/y")),
        ("echo x > out 2> err", ("/work/project/out", "/work/project/err")),
        ("ls &> all.log", ("/work/project/all.log",)),
        ("cat > f <<EOF\nx\nEOF", ("/work/project/f",)),
        ("echo x | tee a b", ("/work/project/a", "/work/project/b")),
        ("cp a b c/", ("/work/project/c",)),
        ("cp -t dest a b", ("/work/project/dest",)),
        ("mv a b", ("/work/project/a", "/work/project/b")),
        ("ln -s /etc/x", ("/work/project/x",)),
        ("dd if=a of=/tmp/b", ("/tmp/b",)),
        ("sort -o out in", ("/work/project/out",)),
        ("sed -i s/a/b/ f g", ("/work/project/f", "/work/project/g")),
        ("sed -e s/a/b/ -i f", ("/work/project/f",)),
        ("chmod +x f", ("/work/project/f",)),
        ("chmod -x f", ("/work/project/f",)),
        ("chown -R u:g d", ("/work/project/d",)),
        ("git rm f", ("/work/project/f",)),
        ("git commit -m x", ("/work/project",)),
        ("git -C /other commit", ("/other",)),
        ("curl -o page.html https://x", ("/work/project/page.html",)),
        ("curl -O https://x/f", ("?",)),
        ("wget https://x/f", ("?",)),
        ("wget -qO- https://x", ()),
        ("find . -fprint out", ("/work/project/out",)),
        ("tar xf a.tar", ("?",)),
        ("xargs rm < list", ("?",)),
        ("sudo -D /etc tee x", ("/etc/x",)),
        ("env -C /tmp touch x", ("/tmp/x",)),
        ("bash -c 'cd /tmp && touch x'; touch y", ("/tmp/x", "/work/project/y")),
        ("eval 'cd /tmp'; touch y", ("/tmp/y",)),  # eval runs in this shell
    ],
)
def test_write_targets(command: str, writes: tuple[str, ...]) -> None:
    assert analyse(command).writes == writes


def test_writes_to_the_terminal_or_nowhere_are_not_writes() -> None:
    for command in ("ls > /dev/null", "echo x >&2", "echo x > /dev/stderr", "ls 2>&-"):
        verdict = analyse(command)
        assert (verdict.action, verdict.writes) == ("allow", ()), command


# ---- the commands found, wrappers unwrapped -----------------------------------------------


@pytest.mark.parametrize(
    ("command", "commands"),
    [
        ("ls | wc -l", ("ls", "wc -l")),
        (
            "sudo env FOO=1 nice -n 5 rm x",
            ("sudo env FOO=1 nice -n 5 rm x", "env FOO=1 nice -n 5 rm x", "nice -n 5 rm x", "rm x"),
        ),
        ("bash -c 'ls | wc -l'", ("bash -c 'ls | wc -l'", "ls", "wc -l")),
        ("timeout 5 git status", ("timeout 5 git status", "git status")),
        ("find . -exec cat {} +", ("find . -exec cat '{}' +", "cat {}")),
        ("xargs grep foo", ("xargs grep foo", "grep foo ?")),
        ("echo $(whoami)", ("whoami", "echo $(whoami)")),
        ("eval 'ls; pwd'", ("eval 'ls; pwd'", "ls", "pwd")),
    ],
)
def test_commands_are_listed_after_unwrapping(command: str, commands: tuple[str, ...]) -> None:
    assert analyse(command).commands == commands


# ---- wrappers and interpreters take their verdict from what they run ----------------------


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("env LC_ALL=C ls", "allow"),
        ("nice ls", "allow"),
        ("timeout 5 ls", "allow"),
        ("xargs -0 grep -l foo", "allow"),
        ("find . -exec grep -l foo {} \\;", "allow"),
        ("find . -execdir cat {} \\;", "allow"),
        ("bash -lc 'git status && git diff'", "allow"),
        ("sh -c 'ls > out'", "ask"),
        ("watch -n 2 'git status'", "allow"),
        ("watch -n 2 'rm x'", "ask"),
        ("su -c ls", "ask"),
        ("trap 'echo bye' EXIT", "allow"),
        ("trap 'rm -f tmp' EXIT", "ask"),
        ("awk 'NR > 1 {print}' f", "ask"),  # `>` may be a redirection to a file
        ("awk 'NR==1' f", "allow"),
    ],
)
def test_wrappers_take_the_verdict_of_what_they_run(command: str, action: str) -> None:
    assert analyse(command).action == action


def test_the_verdict_is_immutable() -> None:
    verdict = analyse("ls")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.action = "deny"  # type: ignore[misc]


# ---- files read, for the secrets check ----------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reads"),
    [
        ("cat .env", ("/work/project/.env",)),
        ("head -n 5 ~/.ssh/id_rsa", ("/home/user/.ssh/id_rsa",)),
        ("wc -l < ~/.aws/credentials", ("/home/user/.aws/credentials",)),
        ("grep -r KEY .env src", ("/work/project/.env", "/work/project/src")),
        ("cd config && sed -n 1p secrets.toml", ("/work/project/config/secrets.toml",)),
        ("echo .env", ()),
        ("rg needle", ()),
        ("cat $FILE", ()),
    ],
)
def test_files_read_are_listed(command: str, reads: tuple[str, ...]) -> None:
    verdict = analyse(command)
    assert verdict.reads == reads
    secret = any(r.endswith((".env", "id_rsa", "credentials")) for r in reads)
    assert (verdict.action, verdict.rule)[0] == ("ask" if secret or "$" in command else "allow")
    if secret:
        assert verdict.rule == "secret:read"
