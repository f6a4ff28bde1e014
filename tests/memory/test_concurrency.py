"""Several real processes writing to one project's memory at once: nothing is
lost, nothing is duplicated, counters add up exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mnemocode.config.settings import MemoryConfig
from mnemocode.memory.db import connect
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.forgetting import REINFORCE_FACTOR, STABILITY_CAP
from mnemocode.memory.migrations import CORE_MIGRATIONS, PROJECT_MIGRATIONS
from mnemocode.memory.search import MemorySearch
from mnemocode.memory.service import Memory, open_registry
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import DIMENSION_STABILITY_DAYS, Entry

WRITERS = 3
MESSAGES = 200
ENTRIES = 100
OBSERVES = 100
FEW_OBSERVES = 2  # few enough that the stability stays under its cap

WRITER = r"""
import sys
from pathlib import Path

from mnemocode.core.types import Message
from mnemocode.config.settings import MemoryConfig
from mnemocode.memory.db import connect
from mnemocode.memory.entries import EntryStore
from mnemocode.memory.migrations import CORE_MIGRATIONS, PROJECT_MIGRATIONS
from mnemocode.memory.sessions import SessionStore
from mnemocode.memory.traits import TraitStore
from mnemocode.memory.types import Entry

name, project_path, core_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()  # the barrier: every writer starts when the parent says go

# Opening races too: the project database does not exist yet.
project = connect(project_path, PROJECT_MIGRATIONS)
core = connect(core_path, CORE_MIGRATIONS)
sessions, entries, traits = SessionStore(project), EntryStore(project), TraitStore(core)
sessions.create("shared", title="one session, many writers")
messages, n_entries, observes, few = (int(a) for a in sys.argv[4:8])
for i in range(max(messages, n_entries, observes)):
    if i < messages:
        sessions.append("shared", i + 1, [Message.user(f"{name} says message {i}")])
    if i < n_entries:
        entries.upsert(Entry(f"{name}-key-{i}", "fact", f"fact {i} from {name}"))
    if i < observes:
        traits.observe("tools", "uses-uv", f"uses uv ({name})")
    if i < few:
        traits.observe("workflow", "small-commits", "commits small")
print("done", flush=True)
"""


def start_writers(tmp_path: Path, project_db: Path, core_db: Path) -> list[subprocess.Popen[str]]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                f"w{n}",
                str(project_db),
                str(core_db),
                *(str(x) for x in (MESSAGES, ENTRIES, OBSERVES, FEW_OBSERVES)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    for proc in procs:  # all started and imported
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    for proc in procs:  # go, all at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def capped_product(default: float, reinforcements: int) -> float:
    stability = default
    for _ in range(reinforcements):
        stability = min(stability * REINFORCE_FACTOR, STABILITY_CAP * default)
    return stability


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    project_db, core_db = tmp_path / "p" / "memory.db", tmp_path / "core.db"
    # The trait exists before the race, so every observe of the writers is a
    # reinforcement.
    core = connect(core_db, CORE_MIGRATIONS)
    TraitStore(core).observe("tools", "uses-uv", "uses uv")
    TraitStore(core).observe("workflow", "small-commits", "commits small")
    core.close()

    procs = start_writers(tmp_path, project_db, core_db)
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done"

    project = connect(project_db, PROJECT_MIGRATIONS)
    core = connect(core_db, CORE_MIGRATIONS)

    # Migrations ran once, whoever won.
    names = [r[0] for r in project.execute("SELECT name FROM _migrations")]
    assert names == [m.__name__ for m in PROJECT_MIGRATIONS]

    # Every message, seqs unique and contiguous, each writer's in its own order.
    rows = project.execute(
        "SELECT seq, text FROM messages WHERE session_id = 'shared' ORDER BY seq"
    ).fetchall()
    assert [r["seq"] for r in rows] == list(range(WRITERS * MESSAGES))
    for n in range(WRITERS):
        mine = [r["text"] for r in rows if r["text"].startswith(f"w{n} ")]
        assert mine == [f"w{n} says message {i}" for i in range(MESSAGES)]
    assert SessionStore(project).get("shared").messages == WRITERS * MESSAGES  # type: ignore[union-attr]

    # Every entry.
    keys = {e.key for e in EntryStore(project).all()}
    assert keys == {f"w{n}-key-{i}" for n in range(WRITERS) for i in range(ENTRIES)}

    # Every reinforcement counted, the stability exactly the capped product.
    uv = TraitStore(core).get("tools", "uses-uv")
    assert uv is not None
    assert uv.reinforcements == WRITERS * OBSERVES
    default = DIMENSION_STABILITY_DAYS["tools"]
    assert uv.stability_days == capped_product(default, WRITERS * OBSERVES) == 2 * default
    commits = TraitStore(core).get("workflow", "small-commits")
    assert commits is not None
    assert commits.reinforcements == WRITERS * FEW_OBSERVES
    expected = capped_product(DIMENSION_STABILITY_DAYS["workflow"], WRITERS * FEW_OBSERVES)
    assert expected < 2 * DIMENSION_STABILITY_DAYS["workflow"]
    assert commits.stability_days == expected

    # The indexes are intact and in step.
    assert project.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    project.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    project.execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
    core.execute("INSERT INTO traits_fts(traits_fts) VALUES ('integrity-check')")
    hits = MemorySearch(project, core).search("w2 message 199", limit=3)
    assert "user: w2 says message 199" in [h.text for h in hits]
    project.close()
    core.close()


SYNCER = r"""
import sys
from pathlib import Path

from mnemocode.config.settings import MemoryConfig
from mnemocode.memory.service import Memory, open_registry

home, work = Path(sys.argv[1]), Path(sys.argv[2])
registry = open_registry(home)
project = registry.require("shop")
memory = Memory(home=home, project=project, config=MemoryConfig(), count_tokens=len)
print("ready", flush=True)
sys.stdin.readline()  # the barrier
report = memory.sync_mirror(work)
print(report.applied, report.deleted, flush=True)
"""


def test_terminals_starting_together_apply_a_memory_md_edit_once(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = tmp_path / "shop"
    work.mkdir()
    registry = open_registry(isolated_home)
    project = registry.create(work)
    registry.conn.close()
    memory = Memory(home=isolated_home, project=project, config=MemoryConfig(), count_tokens=len)
    memory.entries.upsert(Entry("keep", "fact", "stays"))
    memory.entries.upsert(Entry("drop", "fact", "the user deletes it"))
    memory.sync_mirror(work)
    memory.close()
    path = work / ".mnemo" / "MEMORY.md"
    text = path.read_text(encoding="utf-8").replace("- **drop**: the user deletes it\n", "")
    path.write_text(text + "- **added**: by hand\n", encoding="utf-8")

    script = tmp_path / "syncer.py"
    script.write_text(SYNCER, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(isolated_home), str(work)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reports.append(out.strip())

    assert sorted(reports) == ["0 0", "0 0", "0 0", "1 1"]  # one of them took the edit in
    memory = Memory(home=isolated_home, project=project, config=MemoryConfig(), count_tokens=len)
    assert {e.key: e.value for e in memory.entries.all()} == {"keep": "stays", "added": "by hand"}
    assert "- **added**: by hand" in path.read_text(encoding="utf-8")
    assert "drop" not in path.read_text(encoding="utf-8")
    memory.close()
