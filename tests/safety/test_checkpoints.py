"""Checkpoints with real files, real shell commands and real git: undo, rewind and
rollback restore byte for byte (contents, modes, links), across processes, without
touching the user's own repository or what it ignores."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnemocode.safety.checkpoints import (
    CheckpointConflict,
    CheckpointError,
    CheckpointStore,
    FileChange,
)
from mnemocode.safety.checkpoints.ignored import MAX_FILE_BYTES, MAX_FILES

Tree = dict[str, tuple[str, int, str]]


# ---- helpers ------------------------------------------------------------------------


def tree_state(root: Path, *, skip_git: bool = True) -> Tree:
    """Every file and link under ``root``: kind, permission bits, content hash."""
    state: Tree = {}
    for folder, dirs, names in os.walk(root):
        if skip_git and ".git" in dirs:
            dirs.remove(".git")
        for name in dirs + names:
            path = Path(folder, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[rel] = ("file", st.st_mode & 0o7777, digest)
    return state


def dir_bytes(root: Path) -> dict[str, str]:
    """Hash of every file under ``root`` (for a .git directory: nothing may change)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def sh(command: str, cwd: Path) -> None:
    subprocess.run(["bash", "-c", command], cwd=cwd, check=True)


def user_git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="u",
        GIT_AUTHOR_EMAIL="u@example.com",
        GIT_COMMITTER_NAME="u",
        GIT_COMMITTER_EMAIL="u@example.com",
        GIT_OPTIONAL_LOCKS="0",  # `git status` must not refresh the index itself
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME without git excludes, so the machine's own config cannot leak in."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def make_store(tmp_path: Path, workdir: Path, home: Path) -> CheckpointStore:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return CheckpointStore(tmp_path / "state" / "checkpoints", workdir, env=env)


def populate(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "a.txt").write_text("alpha\n")
    (work / "sub").mkdir()
    (work / "sub" / "b.txt").write_text("bravo\n")
    (work / "name with spaces.txt").write_text("spaces\n")
    (work / "ünïcödé ✓.txt").write_text("unicode\n")
    (work / "new\nline.txt").write_text("newline in the name\n")
    (work / "bin.dat").write_bytes(bytes(range(256)) * 8 + b"\r\n\0\r")
    (work / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    (work / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (work / "tool.sh").write_text("#!/bin/sh\n")
    (work / "tool.sh").chmod(0o755)
    (work / "private.txt").write_text("only me\n")
    (work / "private.txt").chmod(0o600)
    os.symlink("a.txt", work / "link")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    populate(path)
    return path


def mixed_turn(store: CheckpointStore, work: Path, outside: Path, turn: int = 1) -> None:
    """What a turn does with the file tools and the shell, outside files included."""
    store.begin_turn("s1", turn)
    (work / "a.txt").write_text("alpha changed by the file tool\n")  # as file_write does
    (work / "crlf.txt").write_bytes(b"one\ntwo\n")
    sh(
        "printf 'bravo changed' > sub/b.txt && echo created > created.txt"
        " && rm 'name with spaces.txt' && chmod +x script.sh && chmod -x tool.sh"
        " && head -c 3000 /dev/urandom > bin.dat && ln -sfn sub/b.txt link"
        " && mkdir -p newdir/deep && echo deep > newdir/deep/f.txt"
        " && printf 'x' >> \"$(printf 'new\\nline.txt')\" && rm 'ünïcödé ✓.txt'",
        work,
    )
    store.backup_outside("s1", turn, outside / "o.txt")
    (outside / "o.txt").write_text("outside changed\n")
    store.backup_outside("s1", turn, outside / "fresh.txt")
    (outside / "fresh.txt").write_text("did not exist before\n")
    store.end_turn("s1", turn)


@pytest.fixture
def outside_dir(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "o.txt").write_text("outside original\n")
    (path / "o.txt").chmod(0o640)
    return path


# ---- undo ---------------------------------------------------------------------------


def test_undo_restores_mixed_file_tool_and_shell_edits_byte_for_byte(
    tmp_path: Path, work: Path, outside_dir: Path, home: Path
) -> None:
    store = make_store(tmp_path, work, home)
    before, before_outside = tree_state(work), tree_state(outside_dir)
    mixed_turn(store, work, outside_dir)
    assert tree_state(work) != before

    changed = {(c.path, c.kind, c.outside) for c in store.changes("s1", 1)}
    assert (work / "created.txt", "added", False) in changed
    assert (work / "name with spaces.txt", "deleted", False) in changed
    assert (work / "script.sh", "modified", False) in changed  # the exec bit alone
    assert (work / "link", "modified", False) in changed
    assert (work / "new\nline.txt", "modified", False) in changed
    assert (outside_dir / "o.txt", "modified", True) in changed
    assert (outside_dir / "fresh.txt", "added", True) in changed
    assert len(changed) == 14

    done = store.undo("s1", 1)

    assert tree_state(work) == before  # contents, permission bits, links; newdir/ gone
    assert tree_state(outside_dir) == before_outside  # fresh.txt removed, mode 0640 back
    assert not (work / "newdir").exists()
    assert FileChange(work / "created.txt", "deleted") in done
    assert FileChange(outside_dir / "fresh.txt", "deleted", outside=True) in done
    assert FileChange(work / "ünïcödé ✓.txt", "added") in done
    assert len(done) == 14


def test_restart_between_change_and_undo(
    tmp_path: Path, work: Path, outside_dir: Path, home: Path
) -> None:
    """The turn is recorded by one process; a fresh store in this one undoes it."""
    before, before_outside = tree_state(work), tree_state(outside_dir)
    script = f"""
import os, subprocess, sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_checkpoints import make_store, mixed_turn
work, outside = Path({str(work)!r}), Path({str(outside_dir)!r})
store = make_store(Path({str(tmp_path)!r}), work, Path({str(home)!r}))
mixed_turn(store, work, outside, turn=4)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert tree_state(work) != before

    fresh = make_store(tmp_path, work, home)
    assert [(c.session, c.turn, c.finished) for c in fresh.list()] == [("s1", 4, True)]
    fresh.undo("s1", 4)
    assert tree_state(work) == before
    assert tree_state(outside_dir) == before_outside


def test_undo_after_a_crash_before_end_turn(tmp_path: Path, work: Path, home: Path) -> None:
    before = tree_state(work)
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh("echo half > a.txt && echo new > half-done.txt", work)  # end_turn never comes
    fresh = make_store(tmp_path, work, home)
    assert {c.path.name for c in fresh.changes("s1", 1)} == {"a.txt", "half-done.txt"}
    fresh.undo("s1", 1)
    assert tree_state(work) == before


def test_user_edits_to_other_files_survive_undo(tmp_path: Path, work: Path, home: Path) -> None:
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    (work / "a.txt").write_text("by the agent\n")
    store.end_turn("s1", 1)
    (work / "sub" / "b.txt").write_text("by the user, after the turn\n")
    store.undo("s1", 1)
    assert (work / "a.txt").read_text() == "alpha\n"
    assert (work / "sub" / "b.txt").read_text() == "by the user, after the turn\n"


def test_conflict_refuses_untouched_then_force_keeps_a_copy(
    tmp_path: Path, work: Path, home: Path
) -> None:
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    (work / "a.txt").write_text("agent\n")
    (work / "sub" / "b.txt").write_text("agent too\n")
    store.end_turn("s1", 1)
    (work / "a.txt").write_text("the user edited it afterwards\n")
    after = tree_state(work)

    with pytest.raises(CheckpointConflict) as caught:
        store.undo("s1", 1)
    assert caught.value.paths == [work / "a.txt"]
    assert tree_state(work) == after  # nothing touched

    store.undo("s1", 1, force=True)
    assert (work / "a.txt").read_text() == "alpha\n"
    assert (work / "sub" / "b.txt").read_text() == "bravo\n"
    kept = [v for v in store.versions(work / "a.txt") if v.phase == "pre-undo"]
    assert len(kept) == 1
    store.restore_version(Path("a.txt"), kept[0].id)
    assert (work / "a.txt").read_text() == "the user edited it afterwards\n"


def test_file_and_directory_swap_both_ways(tmp_path: Path, work: Path, home: Path) -> None:
    before = tree_state(work)
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh(
        "rm a.txt && mkdir -p a.txt/inner && echo x > a.txt/inner/f && rm -r sub && echo f > sub",
        work,
    )
    store.end_turn("s1", 1)
    store.undo("s1", 1)
    assert tree_state(work) == before


def test_small_ignored_files_are_restored_heavy_folders_left_alone(
    tmp_path: Path, work: Path, home: Path
) -> None:
    (work / ".gitignore").write_text("node_modules/\n*.o\n.env\nbuild/\n")
    (work / "node_modules" / "dep").mkdir(parents=True)
    (work / "node_modules" / "dep" / "index.js").write_text("old dep\n")
    (work / ".env").write_text("KEY=1\n")
    (work / "build" / "sub").mkdir(parents=True)
    (work / "build" / "cache.o").write_bytes(b"artifact\0\r\n")
    (work / "build" / "sub" / "old.o").write_bytes(b"old object")
    (work / "build" / "huge.bin").write_bytes(b"h" * (MAX_FILE_BYTES + 1))
    before = tree_state(work)
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh(
        "echo new dep > node_modules/dep/index.js && echo x > node_modules/new.js"
        " && echo obj > main.o && echo x >> build/cache.o && rm build/sub/old.o"
        " && echo tracked > a.txt",
        work,
    )
    # A file tool's write to a small ignored file: the snapshot covers it now.
    assert store.backup_outside("s1", 1, Path(".env")) is False
    assert store.backup_outside("s1", 1, Path("build/huge.bin")) is True  # over the cap
    (work / ".env").write_text("KEY=2\n")
    with (work / "build" / "huge.bin").open("ab") as handle:
        handle.write(b"more")
    store.end_turn("s1", 1)

    names = {str(c.path.relative_to(work)) for c in store.changes("s1", 1)}
    assert names == {
        "a.txt",
        ".env",
        "main.o",
        "build/cache.o",
        "build/sub/old.o",
        "build/huge.bin",
    }
    store.undo("s1", 1)
    after = tree_state(work)
    heavy = {k for k in after if k.startswith("node_modules")}
    assert {k: v for k, v in after.items() if k not in heavy} == {
        k: v for k, v in before.items() if k not in heavy
    }  # byte for byte: main.o gone, old.o back, cache.o and .env as they were
    assert (work / "node_modules" / "dep" / "index.js").read_text() == "new dep\n"  # untouched
    assert (work / "node_modules" / "new.js").exists()
    assert store.versions(work / "node_modules" / "dep" / "index.js") == []


def test_an_ignored_file_that_grows_past_the_cap_is_left_alone(
    tmp_path: Path, work: Path, home: Path
) -> None:
    (work / ".gitignore").write_text("*.log\n")
    (work / "run.log").write_text("small\n")
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    (work / "run.log").write_bytes(b"x" * (MAX_FILE_BYTES + 10))
    (work / "a.txt").write_text("changed\n")
    store.end_turn("s1", 1)
    store.undo("s1", 1)  # no conflict over the log
    assert (work / "a.txt").read_text() == "alpha\n"
    assert (work / "run.log").stat().st_size == MAX_FILE_BYTES + 10


def test_a_file_that_becomes_ignored_stays_in_the_snapshots(
    tmp_path: Path, work: Path, home: Path
) -> None:
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    (work / "gen.txt").write_text("generated\n")
    store.end_turn("s1", 1)
    (work / ".gitignore").write_text("gen.txt\n")  # the user ignores it after all
    store.begin_turn("s1", 2)
    (work / "gen.txt").write_text("regenerated\n")
    (work / "a.txt").write_text("changed\n")
    store.end_turn("s1", 2)
    assert sorted(c.path.name for c in store.changes("s1", 2)) == ["a.txt", "gen.txt"]
    store.undo("s1", 2)
    assert (work / "gen.txt").read_text() == "generated\n"
    assert (work / "a.txt").read_text() == "alpha\n"


def test_the_ignored_file_cap_keeps_the_first_files(tmp_path: Path, work: Path, home: Path) -> None:
    (work / ".gitignore").write_text("out/\n")
    (work / "out").mkdir()
    for i in range(MAX_FILES + 5):
        (work / "out" / f"{i:05d}.o").write_text(f"{i}\n")
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh("rm out/00000.o out/02004.o", work)
    store.end_turn("s1", 1)
    assert [c.path.name for c in store.changes("s1", 1)] == ["00000.o"]
    store.undo("s1", 1)
    assert (work / "out" / "00000.o").read_text() == "0\n"
    assert not (work / "out" / "02004.o").exists()  # past the cap: not restored


def test_what_a_backup_cannot_hold_is_skipped(tmp_path: Path, work: Path, home: Path) -> None:
    store = make_store(tmp_path, work, home)
    assert store.backup_outside("s1", 1, Path(os.devnull)) is False  # `cmd > /dev/null`
    assert store.backup_outside("s1", 1, tmp_path / "home") is False  # a directory
    assert store.backup_outside("s1", 1, tmp_path / "nowhere" / "new.txt") is True
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "new.txt").write_text("x")
    store.end_turn("s1", 1)
    store.undo("s1", 1)
    assert not (tmp_path / "nowhere" / "new.txt").exists()


def test_a_store_inside_the_work_tree_leaves_itself_out(tmp_path: Path, home: Path) -> None:
    work = tmp_path / "work"
    populate(work)
    before = tree_state(work)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    store = CheckpointStore(work / ".state" / "checkpoints", work, env=env)
    store.begin_turn("s1", 1)
    (work / "a.txt").write_text("changed\n")
    store.end_turn("s1", 1)
    assert [c.path.name for c in store.changes("s1", 1)] == ["a.txt"]
    store.undo("s1", 1)
    assert {k: v for k, v in tree_state(work).items() if not k.startswith(".state")} == before


def test_global_excludes_of_the_user_are_honoured(tmp_path: Path, work: Path, home: Path) -> None:
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("*.swp\n")
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh("echo swap > a.txt.swp && echo kept > kept.txt", work)
    store.end_turn("s1", 1)
    assert [c.path.name for c in store.changes("s1", 1)] == ["kept.txt"]
    store.undo("s1", 1)
    assert (work / "a.txt.swp").exists()
    assert not (work / "kept.txt").exists()


def test_content_conversions_of_the_repository_do_not_apply(
    tmp_path: Path, work: Path, home: Path
) -> None:
    """.gitattributes asking for CRLF or a filter must not change what is restored."""
    (work / ".gitattributes").write_text("* text eol=crlf\n*.dat filter=nosuch\n")
    before = tree_state(work)
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh("printf 'lf only\\n' > crlf.txt && printf 'z' > bin.dat && printf 'a\\r\\nb' > a.txt", work)
    store.end_turn("s1", 1)
    store.undo("s1", 1)
    assert tree_state(work) == before


# ---- the user's own repository ------------------------------------------------------


def test_the_users_git_repository_is_untouched(tmp_path: Path, home: Path) -> None:
    work = tmp_path / "repo"
    populate(work)
    (work / ".gitignore").write_text("build/\n")
    user_git(work, "init", "-q")
    user_git(work, "add", "-A")
    user_git(work, "commit", "-q", "-m", "initial")
    (work / "a.txt").write_text("staged change\n")
    user_git(work, "add", "a.txt")
    (work / "sub" / "b.txt").write_text("unstaged change\n")
    (work / "untracked.txt").write_text("untracked\n")
    user_git(work, "status")  # let git settle its index once
    status, git_dir, files = (
        user_git(work, "status", "--porcelain=v1", "-z"),
        dir_bytes(work / ".git"),
        tree_state(work),
    )

    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh(
        "echo agent > a.txt && rm sub/b.txt && echo new > new.txt"
        " && mkdir build && echo o > build/o",
        work,
    )
    store.end_turn("s1", 1)
    assert dir_bytes(work / ".git") == git_dir  # index, refs, config: same bytes
    store.undo("s1", 1)

    assert dir_bytes(work / ".git") == git_dir
    assert user_git(work, "status", "--porcelain=v1", "-z") == status
    assert tree_state(work) == files  # build/o (ignored, made by the turn) removed too
    assert not list(work.rglob(".mnemo-*"))  # no temporary file left behind


def test_workdir_inside_a_repository_uses_its_ignore_rules(tmp_path: Path, home: Path) -> None:
    top = tmp_path / "mono"
    (top / "pkg").mkdir(parents=True)
    (top / ".gitignore").write_text("node_modules/\n")  # ignored and heavy: left alone
    (top / "pkg" / "mod.py").write_text("x = 1\n")
    (top / "other.txt").write_text("not in the work directory\n")
    user_git(top, "init", "-q")
    store = make_store(tmp_path, top / "pkg", home)
    store.begin_turn("s1", 1)
    sh(
        "echo 'x = 2' > mod.py && mkdir node_modules && echo built > node_modules/out.js"
        " && echo b > ../other.txt",
        top / "pkg",
    )
    store.end_turn("s1", 1)
    assert [c.path for c in store.changes("s1", 1)] == [top / "pkg" / "mod.py"]
    store.undo("s1", 1)
    assert (top / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert (top / "pkg" / "node_modules" / "out.js").exists()
    assert (top / "other.txt").read_text() == "b\n"  # outside the work directory


def test_a_work_directory_its_repository_ignores_is_still_covered(
    tmp_path: Path, home: Path
) -> None:
    """A home directory tracked with "*" must not make every snapshot empty."""
    top = tmp_path / "dotfiles"
    top.mkdir()
    (top / ".gitignore").write_text("*\n")
    user_git(top, "init", "-q")
    work = top / "code" / "project"
    populate(work)
    before = tree_state(work)
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    sh("echo changed > a.txt && echo new > new.txt", work)
    store.end_turn("s1", 1)
    assert {c.path.name for c in store.changes("s1", 1)} == {"a.txt", "new.txt"}
    store.undo("s1", 1)
    assert tree_state(work) == before


def test_a_nested_repository_is_left_to_backups(tmp_path: Path, work: Path, home: Path) -> None:
    nested = work / "vendor" / "lib"
    nested.mkdir(parents=True)
    (nested / "lib.c").write_text("int x;\n")
    user_git(nested, "init", "-q")
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    assert store.backup_outside("s1", 1, nested / "lib.c") is True
    (nested / "lib.c").write_text("int y;\n")
    (work / "a.txt").write_text("changed\n")
    store.end_turn("s1", 1)
    assert {c.path.name for c in store.changes("s1", 1)} == {"a.txt", "lib.c"}
    store.undo("s1", 1)
    assert (nested / "lib.c").read_text() == "int x;\n"
    assert (nested / ".git").is_dir()


# ---- rewind, versions, rollback ---------------------------------------------------------


def test_rewind_over_three_turns(tmp_path: Path, work: Path, outside_dir: Path, home: Path) -> None:
    store = make_store(tmp_path, work, home)
    states = [tree_state(work)]
    outside_states = [tree_state(outside_dir)]
    for turn in (1, 2, 3):
        store.begin_turn("s1", turn)
        sh(f"echo turn{turn} >> a.txt && echo {turn} > t{turn}.txt && rm -f t{turn - 1}.txt", work)
        store.backup_outside("s1", turn, outside_dir / "o.txt")
        (outside_dir / "o.txt").write_text(f"outside turn {turn}\n")
        store.end_turn("s1", turn)
        states.append(tree_state(work))
        outside_states.append(tree_state(outside_dir))

    assert [c.turn for c in store.list("s1")] == [1, 2, 3]
    store.rewind("s1", 1)
    assert tree_state(work) == states[1]
    assert tree_state(outside_dir) == outside_states[1]
    assert [c.turn for c in store.list("s1")] == [1]
    assert [c.turn for c in store.list("s1", include_undone=True) if c.undone] == [2, 3]

    again = store.begin_turn("s1", 2)  # the number is free again: a new checkpoint
    assert again.id not in {c.id for c in store.list("s1", include_undone=True) if c.undone}
    store.rewind("s1", 0)
    assert tree_state(work) == states[0]
    assert tree_state(outside_dir) == outside_states[0]
    assert store.rewind("s1", 0) == []


def test_versions_lists_every_content_and_restore_version_brings_one_back(
    tmp_path: Path, work: Path, home: Path
) -> None:
    store = make_store(tmp_path, work, home)
    contents = ["alpha\n"]
    for turn in (1, 2, 3):
        store.begin_turn("s1", turn)
        contents.append(f"version {turn}\n")
        sh(f"printf 'version {turn}\\n' > a.txt", work)
        store.end_turn("s1", turn)

    versions = store.versions(Path("a.txt"))
    shas = [v.sha for v in versions]
    wanted = [git_blob_id(c.encode()) for c in reversed(contents)]
    assert shas == wanted  # newest first, one per content
    assert [v.turn for v in versions] == [3, 3, 2, 1]
    assert versions[-1].size == len("alpha\n")
    assert "turn 1" in versions[-1].describe()

    store.restore_version(work / "a.txt", versions[-1].id)
    assert (work / "a.txt").read_text() == "alpha\n"
    assert any(v.phase == "pre-rollback" for v in store.versions(Path("a.txt")))
    with pytest.raises(CheckpointError):
        store.restore_version(Path("a.txt"), "nonsense")


def test_rollback_of_a_name_with_glob_characters(tmp_path: Path, work: Path, home: Path) -> None:
    name = "we*ird [1] ?.txt"
    (work / name).write_text("one\n")
    (work / "we-ird 1 x.txt").write_text("a file the pattern would match\n")
    store = make_store(tmp_path, work, home)
    store.begin_turn("s1", 1)
    (work / name).write_text("two\n")
    store.end_turn("s1", 1)
    versions = store.versions(Path(name))
    assert [v.sha for v in versions] == [git_blob_id(b"two\n"), git_blob_id(b"one\n")]
    store.restore_version(Path(name), versions[-1].id)
    assert (work / name).read_text() == "one\n"
    assert (work / "we-ird 1 x.txt").read_text() == "a file the pattern would match\n"


def test_versions_of_an_outside_file_with_an_awkward_name(
    tmp_path: Path, work: Path, home: Path
) -> None:
    odd = tmp_path / os.fsdecode(b"we\xffird\nname \xe2\x9c\x93")
    odd.write_bytes(b"first")
    store = make_store(tmp_path, work, home)
    for turn, data in ((1, b"second"), (2, b"third")):
        store.backup_outside("s1", turn, odd)
        odd.write_bytes(data)
        store.end_turn("s1", turn)
    assert [v.sha for v in store.versions(odd)] == [
        git_blob_id(b) for b in (b"third", b"second", b"first")
    ]
    store.restore_version(odd, store.versions(odd)[-1].id)
    assert odd.read_bytes() == b"first"
    store.rewind("s1", 0, force=True)
    assert odd.read_bytes() == b"first"


# ---- bookkeeping --------------------------------------------------------------------


def test_begin_turn_is_idempotent_and_sessions_keep_odd_names(
    tmp_path: Path, work: Path, home: Path
) -> None:
    store = make_store(tmp_path, work, home)
    assert store.list() == []
    first = store.begin_turn("sess/one: ü", 1)
    (work / "a.txt").write_text("changed\n")
    assert store.begin_turn("sess/one: ü", 1) == first
    other = store.begin_turn("other", 1)
    assert other.id != first.id
    assert [(c.session, c.turn) for c in store.list("sess/one: ü")] == [("sess/one: ü", 1)]
    store.end_turn("never-began", 5)  # nothing to record
    with pytest.raises(CheckpointError, match="no checkpoint for turn 2"):
        store.undo("sess/one: ü", 2)
    assert not (work / ".git").exists()  # the work directory stays a plain directory


def test_prune_by_age_and_by_size(tmp_path: Path, work: Path, home: Path) -> None:
    store = make_store(tmp_path, work, home)

    def turn(session: str, number: int) -> None:
        store.begin_turn(session, number)
        (work / "payload.bin").write_bytes(os.urandom(200_000))  # does not compress
        store.end_turn(session, number)

    for number in (1, 2):
        turn("old", number)
    time.sleep(1.0)
    for number in (1, 2, 3):
        turn("new", number)

    assert store.prune(max_age_days=0.5 / 86400, max_bytes=10**9, keep_sessions={"new"}) == 2
    assert {c.session for c in store.list()} == {"new"}
    objects = tmp_path / "state" / "checkpoints" / "shadow.git" / "objects"
    size = sum(f.stat().st_size for f in objects.rglob("*") if f.is_file())
    assert 800_000 < size < 900_000  # 4 payloads: the one before new 1, and 3 more

    # new 3 alone reaches two payloads (before and after it): ~400 kB
    assert store.prune(max_age_days=365, max_bytes=450_000) == 2
    assert [c.turn for c in store.list()] == [3]
    size = sum(f.stat().st_size for f in objects.rglob("*") if f.is_file())
    assert 400_000 < size <= 450_000
    store.undo("new", 3)
    assert store.prune(max_age_days=365, max_bytes=0) == 2  # the attic and the undo record
    assert store.list(include_undone=True) == []


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
