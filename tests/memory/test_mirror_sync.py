"""``.mnemo/MEMORY.md`` and the project database kept in step by
``Memory.sync_mirror``: written from the database, the user's edits taken back,
the user winning conflicts, written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.config.settings import MemoryConfig
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory import mirror
from mnemocode.memory.extraction import MemoryOp, MemoryOps
from mnemocode.memory.projects import Project
from mnemocode.memory.service import Memory, open_registry
from mnemocode.memory.types import Entry


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "shop"
    path.mkdir()
    return path


@pytest.fixture
def project(work: Path, isolated_home: Path) -> Project:
    registry = open_registry(isolated_home)
    try:
        return registry.create(work)
    finally:
        registry.conn.close()


def open_memory(home: Path, project: Project) -> Memory:
    return Memory(home=home, project=project, config=MemoryConfig(), count_tokens=count_tokens)


@pytest.fixture
def memory(isolated_home: Path, project: Project) -> Iterator[Memory]:
    mem = open_memory(isolated_home, project)
    yield mem
    mem.close()


def mirror_path(work: Path) -> Path:
    return work / ".mnemo" / "MEMORY.md"


def values(memory: Memory) -> dict[str, tuple[str, str, str, bool]]:
    return {e.key: (e.value, e.rationale, e.status, e.pinned) for e in memory.entries.all()}


def seed(memory: Memory) -> None:
    memory.entries.upsert(
        Entry("job-store", "decision", "Use SQLite for the job store", rationale="no server")
    )
    memory.entries.upsert(Entry("test-command", "convention", "pytest -q", pinned=True))
    memory.entries.upsert(Entry("auth-flow", "task", "Finish the OAuth callback"))


def test_no_file_is_created_while_memory_is_empty(memory: Memory, work: Path) -> None:
    report = memory.sync_mirror(work)
    assert not report.written and not report.user_edits
    assert not (work / ".mnemo").exists()


def test_the_database_is_written_to_the_file(memory: Memory, work: Path) -> None:
    seed(memory)
    report = memory.sync_mirror(work)
    assert report.written and not report.user_edits and report.conflicts == []
    text = mirror_path(work).read_text(encoding="utf-8")
    assert text == mirror.render(memory.entries.all(), project=memory.project.name)
    assert "- **job-store**: Use SQLite for the job store — why: no server" in text
    assert "- **test-command** (pinned): pytest -q" in text
    assert text.index("## Decisions") < text.index("## Conventions") < text.index("## Open tasks")

    again = memory.sync_mirror(work)  # nothing changed: not rewritten
    assert not again.written and not again.user_edits


def test_the_users_edits_are_applied(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    path = mirror_path(work)
    text = path.read_text(encoding="utf-8")
    text = text.replace("Use SQLite for the job store", "Use Redis for the job store")
    text = text.replace("- **auth-flow**: Finish the OAuth callback\n", "")
    text += "\n## Facts\n\n- **python**: Python 3.12 only — why: we use the new generics\n"
    text += "* a bullet without a key\n"
    path.write_text(text, encoding="utf-8")

    report = memory.sync_mirror(work)

    assert (report.applied, report.deleted, report.conflicts) == (3, 1, [])
    assert report.user_edits and report.written
    assert report.describe() == "MEMORY.md edits picked up: 3 added or changed, 1 removed"
    assert values(memory) == {
        "job-store": ("Use Redis for the job store", "no server", "active", False),
        "test-command": ("pytest -q", "", "active", True),
        "python": ("Python 3.12 only", "we use the new generics", "active", False),
        "a-bullet-without-a-key": ("a bullet without a key", "", "active", False),
    }
    assert memory.entries.get("job-store").source == "mirror"  # type: ignore[union-attr]
    assert memory.entries.get("python").kind == "fact"  # type: ignore[union-attr]
    # Deleted for real (soft): not found, and the file is rewritten without it.
    assert not any(h.ref == "entry:auth-flow" for h in memory.search("oauth callback"))
    rewritten = path.read_text(encoding="utf-8")
    assert rewritten == mirror.render(memory.entries.all(), project=memory.project.name)
    assert "auth-flow" not in rewritten

    # Picked up once: the next sync (another terminal, say) sees nothing new.
    other = open_memory(memory.home, memory.project)
    try:
        later = other.sync_mirror(work)
    finally:
        other.close()
    assert not later.user_edits and not later.written


def test_flags_in_the_file_set_status_and_pin(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    path = mirror_path(work)
    text = path.read_text(encoding="utf-8")
    text = text.replace("- **job-store**:", "- **job-store** (reversed, pinned):")
    text = text.replace("- **test-command** (pinned):", "- **test-command**:")
    path.write_text(text, encoding="utf-8")

    memory.sync_mirror(work)
    assert values(memory)["job-store"][2:] == ("reversed", True)
    assert values(memory)["test-command"][3] is False  # the user took the pin away


def test_a_conflict_is_won_by_the_user_and_reported(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    # The judge changes two entries after the file was written…
    memory.apply(
        MemoryOps(
            ops=[
                MemoryOp(
                    op="update", layer="project", key="job-store", kind="decision",
                    value="Use PostgreSQL for the job store", rationale="judge's idea",
                ),
                MemoryOp(
                    op="update", layer="project", key="auth-flow", kind="task",
                    value="Finish the OAuth callback", status="done",
                ),
            ]
        )
    )  # fmt: skip
    # … while the user edits one of them in the file.
    path = mirror_path(work)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("Use SQLite for the job store — why: no server", "Use Redis — why: mine"),
        encoding="utf-8",
    )

    report = memory.sync_mirror(work)

    assert report.conflicts == ["job-store"]
    assert report.applied == 1
    assert "your version kept for job-store" in report.describe()
    assert values(memory)["job-store"] == ("Use Redis", "mine", "active", False)
    # The judge's other change is not undone by the stale file.
    assert values(memory)["auth-flow"][2] == "done"
    assert "- **auth-flow** (done): Finish the OAuth callback" in path.read_text(encoding="utf-8")


def test_a_user_deleting_an_entry_the_judge_changed_deletes_it(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    memory.entries.upsert(Entry("auth-flow", "task", "Finish the OAuth callback and logout"))
    path = mirror_path(work)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "- **auth-flow**: Finish the OAuth callback\n", ""
        ),
        encoding="utf-8",
    )
    report = memory.sync_mirror(work)
    assert (report.deleted, report.conflicts) == (1, ["auth-flow"])
    assert memory.entries.get("auth-flow") is None


def test_a_deleted_file_is_written_again_and_deletes_nothing(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    mirror_path(work).unlink()
    report = memory.sync_mirror(work)
    assert report.written and not report.user_edits
    assert len(memory.entries.all()) == 3
    assert mirror_path(work).is_file()


def test_a_file_written_before_mnemo_ever_synced_is_taken_in(memory: Memory, work: Path) -> None:
    # No base yet (a fresh database, or a MEMORY.md the user wrote by hand): its
    # entries are added, nothing is deleted.
    memory.entries.upsert(Entry("kept", "fact", "stays"))
    mirror_path(work).parent.mkdir()
    mirror_path(work).write_text(
        "# Project memory\n\n## Conventions\n\n- **tabs**: Indent with tabs\n", encoding="utf-8"
    )
    report = memory.sync_mirror(work)
    assert (report.applied, report.deleted) == (1, 0)
    assert set(values(memory)) == {"kept", "tabs"}
    assert memory.entries.get("tabs").kind == "convention"  # type: ignore[union-attr]


def test_the_file_is_replaced_atomically(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    path = mirror_path(work)
    before = path.read_text(encoding="utf-8")
    with path.open(encoding="utf-8") as reader:  # a reader with the old file open
        inode = os.stat(path).st_ino
        memory.entries.upsert(Entry("new-one", "fact", "added by the agent"))
        report = memory.sync_mirror(work)
        assert report.written
        # A new file was renamed over the path; the open reader still has the
        # whole old one, not a half-written mix.
        assert os.stat(path).st_ino != inode
        assert reader.read() == before
    assert "new-one" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == [".gitignore", "MEMORY.md"]  # no temp


def test_an_unreadable_file_is_neither_applied_nor_overwritten(memory: Memory, work: Path) -> None:
    seed(memory)
    memory.sync_mirror(work)
    path = mirror_path(work)
    legacy = path.read_text(encoding="utf-8").replace("pytest -q", "pytest -q café")
    path.write_bytes(legacy.encode("cp1252"))  # an editor saved it in Windows-1252

    report = memory.sync_mirror(work)

    assert report.problem.startswith(f"cannot read {path}")
    assert report.describe().startswith("MEMORY.md not synced:")
    assert not report.written and not report.user_edits
    assert path.read_bytes() == legacy.encode("cp1252")  # the user's edit is still there
    assert values(memory)["test-command"][0] == "pytest -q"


def test_a_missing_work_directory_is_not_created(memory: Memory, tmp_path: Path) -> None:
    seed(memory)
    gone = tmp_path / "moved-away"
    report = memory.sync_mirror(gone)
    assert report.problem and not report.written
    assert not gone.exists()
