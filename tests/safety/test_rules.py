"""Permission rules: narrow, persisted, and the auto-mode whitelist."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mnemocode.safety.rules import DEFAULT_WHITELIST, Rule, RuleStore
from mnemocode.safety.shell import analyse_command


def store(tmp_path: Path) -> RuleStore:
    return RuleStore(
        global_path=tmp_path / "home" / ".mnemo" / "rules.toml",
        project_path=tmp_path / "state" / "rules.toml",
        home=tmp_path / "home",
    )


def test_command_rule_matches_its_exact_command_in_its_directory_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.add(Rule("shell_exec", "project", prefix="npm test", directory=str(work)))
    assert rules.match_command([["npm", "test"]], work) is not None
    assert rules.match_command([["npm", "test", "--", "-u"]], work) is None  # not a prefix
    assert rules.match_command([["npm", "install"]], work) is None
    assert rules.match_command([["npm", "test"]], tmp_path) is None  # other directory
    # every part of a compound command must be covered
    assert rules.match_command([["npm", "test"], ["rm", "-rf", "x"]], work) is None
    # persisted: a new store (a new process) sees it
    assert [r.prefix for r in store(tmp_path).rules()] == ["npm test"]


def test_saved_rules_do_not_extend_to_further_arguments(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.add(Rule("shell_exec", "project", prefix="git push origin main", directory=str(work)))
    rules.add(Rule("shell_exec", "project", prefix="pytest -q", directory=str(work)))
    assert rules.match_command([["git", "push", "origin", "main"]], work) is not None
    assert rules.match_command([["git", "push", "origin", "main", "--force"]], work) is None
    assert rules.match_command([["pytest", "-q"]], work) is not None
    assert rules.match_command([["pytest", "-q", "-p", "evil"]], work) is None


def test_a_pattern_rule_takes_further_arguments_only_when_marked(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    # what the guard saves after "always" for `rm *` (a glob): still exactly that command
    rules.add(Rule("shell_exec", "project", prefix="rm *", directory=str(work)))
    assert rules.match_command([["rm", "*"]], work) is not None
    assert rules.match_command([["rm", "-rf", "/"]], work) is None
    saved = rules.add(
        Rule("shell_exec", "project", prefix="npm run e2e *", directory=str(work), pattern=True)
    )
    assert rules.match_command([["npm", "run", "e2e", "--headed"]], work) is not None
    assert rules.match_command([["npm", "run", "e2e2"]], work) is None
    assert "any command starting `npm run e2e *`" in saved.describe()
    assert "exactly `rm *`" in rules.rules()[0].describe()
    with pytest.raises(ValueError, match="words before"):
        rules.add(Rule("shell_exec", "project", prefix="*", directory=str(work), pattern=True))


def test_rules_saved_by_older_versions_are_exact_commands(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.paths["project"].parent.mkdir(parents=True)
    rules.paths["project"].write_text(
        f'[[rules]]\ntool = "shell_exec"\nprefix = "make docs"\ndirectory = "{work}"\n'
    )
    assert rules.match_command([["make", "docs"]], work) is not None
    assert rules.match_command([["make", "docs", "--eval", "x"]], work) is None


def test_rules_are_never_broad(tmp_path: Path) -> None:
    rules = store(tmp_path)
    with pytest.raises(ValueError, match="may not cover /"):
        rules.add(Rule("shell_exec", "global", prefix="make", directory="/"))
    with pytest.raises(ValueError, match="may not cover"):
        rules.add(Rule("shell_exec", "global", prefix="make", directory=str(tmp_path / "home")))
    with pytest.raises(ValueError, match="narrower"):
        rules.add(Rule("file_write", "project", path_glob="**"))
    with pytest.raises(ValueError, match="needs a command"):
        rules.add(Rule("shell_exec", "project", prefix=" ", directory=str(tmp_path)))


def test_tool_rule_by_path_pattern_and_removal(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    rules = store(tmp_path)
    rules.add(Rule("file_write", "project", path_glob="src/*.py"))
    rules.add(Rule("file_edit", "global", path_glob="docs/*"))
    assert rules.match_path("file_write", work / "src" / "a.py", work) is not None
    assert rules.match_path("file_write", work / "setup.py", work) is None
    assert rules.match_path("file_edit", work / "src" / "a.py", work) is None
    removed = rules.remove(1)
    assert removed.path_glob == "src/*.py"
    assert [r.path_glob for r in rules.rules()] == ["docs/*"]
    with pytest.raises(ValueError, match="no rule 5"):
        rules.remove(5)


def test_whitelist_add_remove_and_reset_keeps_rules(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    rules = store(tmp_path)
    rules.add(Rule("shell_exec", "project", prefix="make docs", directory=str(work)))
    assert rules.whitelist() == list(DEFAULT_WHITELIST)

    def listed(*argvs: list[str]) -> bool:
        return rules.whitelisted(list(argvs), workdir=work, cwd=work)

    assert rules.whitelist_add("just   build") == "just build"
    assert listed(["just", "build"])
    assert not listed(["just", "build", "--release"])  # exact unless the user writes `*`
    assert rules.whitelist_add("npm run e2e *") == "npm run e2e *"
    assert listed(["npm", "run", "e2e", "--headed"])
    assert not listed(["just", "build"], ["curl", "x"])
    assert "npm run e2e * (any further arguments)" in rules.whitelist_shown()
    assert "just build (exact)" in rules.whitelist_shown()
    assert "make [target…] (checked flags)" in rules.whitelist_shown()
    assert rules.whitelist_remove("pytest")
    assert not listed(["pytest", "-q"])
    assert rules.whitelist_remove("just build")
    rules.whitelist_reset()
    assert rules.whitelist() == list(DEFAULT_WHITELIST)
    assert [r.prefix for r in rules.rules()] == ["make docs"]
    with pytest.raises(ValueError, match="last word"):
        rules.whitelist_add("npm * test")


# Each of these got through the prefix whitelist: extra arguments that load code,
# run another program or write outside the work directory.
BYPASSES = [
    "make -f /dev/null --eval '$(shell echo x >> ~/.bashrc)'",
    "make --ev='$(shell id)'",
    "make -E '$(shell id)'",
    "make SHELL=/tmp/evil",
    "make -C /tmp",
    "pytest -p evil",
    "pytest -q -p evil",
    "pytest -qpevil",
    "pytest --basetemp=/tmp/outside",
    "pytest --basetemp ../outside",
    "pytest --rootdir=/tmp",
    "pytest --junitxml=/tmp/report.xml",
    "pytest -o cache_dir=/tmp/cache",
    "pytest -o addopts='-p evil'",
    "pytest --pastebin=all",
    "python3 -m pytest -p evil",
    "uv run pytest --pastebin=failed",
    "npm test --script-shell=/tmp/evil",
    "npm run build --prefix /tmp",
    "cargo build --config build.rustc-wrapper=/tmp/evil",
    "cargo test -Zunstable-options",
    "cargo build --target-dir /tmp/target",
    "go test -exec /tmp/evil ./...",
    "go build -toolexec /tmp/evil",
    "go build --toolexec=/tmp/evil",
    "go build -o /tmp/out",
    "go vet -vettool=/tmp/evil ./...",
    "go build -overlay overlay.json",
    "ruff check --output-file /tmp/out",
    "ruff check --cache-dir=/tmp/cache",
    "mypy --config-file /tmp/mypy.ini",
    "mypy --python-executable /tmp/evil",
    "git commit -F ~/.aws/credentials",
    "git commit --file=/etc/passwd",
    "git commit --template=/tmp/t",
    "git stash drop",
    "tar -xvf a.tar",
    "tar -tvf host:a.tar",
    "tar -tvf a.tar --to-command=sh",
    "unzip a.zip",
    "timeout 5 curl http://example.com",
    "pytest $EXTRA",
    "cd / && make",
    "cd .. && pytest",
    "./../outside.sh",
    "chmod u+s run.sh",
    "rm --no-preserve-root -rf build",
]
PLAIN = [
    "make",
    "make test -j4",
    "make -C sub",
    "pytest",
    "pytest -q -p no:cacheprovider",
    "pytest --basetemp=tmp/pytest",
    "pytest -o cache_dir=.cache -x tests/test_a.py::test_b",
    "python3 -m pytest -x",
    "uv run pytest -q",
    "npm test",
    "npm run build",
    "cargo build --release",
    "cargo test -- --nocapture",
    "go test ./...",
    "go build -o bin/app ./cmd/app",
    "ruff check --output-file ruff.txt src",
    "mypy src",
    "git commit -m 'fix: parse empty input'",
    "git stash pop",
    "tar -tzvf a.tar.gz",
    "unzip -l a.zip",
    "timeout 300 pytest -x",
    "cd tests && pytest",
    "chmod +x run.sh && ./run.sh --fast",
]


def _argvs(command: str, work: Path, home: Path) -> list[list[str]]:
    verdict = analyse_command(command, cwd=work, home=home)
    return [shlex.split(c) for c in verdict.commands]


@pytest.mark.parametrize("command", BYPASSES)
def test_whitelist_refuses_arguments_that_escape(tmp_path: Path, command: str) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    rules = store(tmp_path)
    argvs = _argvs(command, work, home)
    assert not rules.whitelisted(argvs, workdir=work, cwd=work), command


@pytest.mark.parametrize("command", PLAIN)
def test_whitelist_keeps_the_plain_forms(tmp_path: Path, command: str) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    (work / "sub").mkdir(parents=True)
    (work / "tests").mkdir()
    rules = store(tmp_path)
    argvs = _argvs(command, work, home)
    refusal = rules.whitelist_refusal(argvs, workdir=work, cwd=work)
    assert refusal is None, (command, refusal)


def test_whitelist_follows_symlinks_out_of_the_work_directory(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / "escape").symlink_to(home)
    rules = store(tmp_path)
    for command in ["pytest --basetemp=escape/t", "cd escape && make", "go build -o escape/x"]:
        assert not rules.whitelisted(_argvs(command, work, home), workdir=work, cwd=work)
    assert not rules.whitelisted([["pytest"]], workdir=work, cwd=home)  # started outside
