"""The project registry in ``core.db``: which project a directory belongs to,
creating, renaming, moving and deleting projects, and two processes racing to
create the same one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.app import resolve_project
from mnemocode.config.settings import MemoryConfig
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.db import connect
from mnemocode.memory.migrations import CORE_MIGRATIONS
from mnemocode.memory.projects import ProjectError, ProjectRegistry, check_name, default_slug
from mnemocode.memory.service import Memory, open_registry
from mnemocode.memory.types import Entry


@pytest.fixture
def registry(isolated_home: Path) -> Iterator[ProjectRegistry]:
    reg = open_registry(isolated_home)
    yield reg
    reg.conn.close()


def folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_most_specific_work_directory_wins(registry: ProjectRegistry, tmp_path: Path) -> None:
    outer = registry.create(folder(tmp_path / "mono"))
    inner = registry.create(folder(tmp_path / "mono" / "services" / "billing"))
    registry.create(folder(tmp_path / "mono-other"))  # a sibling whose name is a prefix

    def owner(path: Path) -> str | None:
        found = registry.for_directory(folder(path))
        return found.name if found else None

    assert owner(tmp_path / "mono") == outer.name == "mono"
    assert owner(tmp_path / "mono" / "docs") == "mono"
    assert owner(tmp_path / "mono" / "services") == "mono"
    assert owner(tmp_path / "mono" / "services" / "billing") == inner.name == "billing"
    assert owner(tmp_path / "mono" / "services" / "billing" / "src" / "api") == "billing"
    assert owner(tmp_path / "mono-other" / "x") == "mono-other"
    assert owner(tmp_path / "elsewhere") is None
    # The order of creation does not matter.
    registry.create(folder(tmp_path / "mono" / "services" / "billing" / "src"), name="deepest")
    assert owner(tmp_path / "mono" / "services" / "billing" / "src" / "api") == "deepest"
    assert owner(tmp_path / "mono" / "services" / "billing") == "billing"


def test_a_symlinked_path_finds_the_same_project(registry: ProjectRegistry, tmp_path: Path) -> None:
    real = folder(tmp_path / "real")
    registry.create(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    found = registry.for_directory(link / ".")
    assert found is not None and found.name == "real"


def test_a_new_project_is_made_for_the_repository_root(
    registry: ProjectRegistry, tmp_path: Path
) -> None:
    repo = folder(tmp_path / "shop")
    (repo / ".git").mkdir()
    sub = folder(repo / "src" / "orders")

    project = resolve_project(registry, sub, None, {})
    assert (project.name, project.workdir) == ("shop", repo.resolve())
    assert project.slug == default_slug(repo)
    # From anywhere in it, later: the same one, and no other is made.
    again = resolve_project(registry, folder(repo / "docs"), None, {})
    assert again.slug == project.slug
    assert [p.name for p in registry.all()] == ["shop"]

    # Without a repository around it: the directory itself.
    loose = folder(tmp_path / "scratch" / "notes")
    assert resolve_project(registry, loose, None, {}).workdir == loose.resolve()

    # --project NAME: made for the directory under that name, then found by it.
    named = resolve_project(registry, sub, "orders-svc", {})
    assert (named.name, named.workdir) == ("orders-svc", sub.resolve())
    assert resolve_project(registry, tmp_path, "orders-svc", {}).slug == named.slug
    assert named.slug != project.slug


def test_a_taken_folder_name_gets_a_suffix(registry: ProjectRegistry, tmp_path: Path) -> None:
    first = registry.create(folder(tmp_path / "a" / "api"))
    second = registry.create(folder(tmp_path / "b" / "api"))
    third = registry.create(folder(tmp_path / "c" / "api"))
    assert [first.name, second.name, third.name] == ["api", "api-2", "api-3"]
    assert len({first.slug, second.slug, third.slug}) == 3
    with pytest.raises(ProjectError, match="already exists"):
        registry.create(folder(tmp_path / "d" / "api"), name="api")


def test_two_projects_on_one_folder_get_distinct_data_folders(
    registry: ProjectRegistry, tmp_path: Path
) -> None:
    work = folder(tmp_path / "shop")
    slugs = {registry.create(work, name=f"shop-{n}").slug for n in range(5)}
    assert len(slugs) == 5


def test_rename_keeps_the_memory(isolated_home: Path, tmp_path: Path) -> None:
    work = folder(tmp_path / "shop")
    registry = open_registry(isolated_home)
    project = registry.create(work)
    memory = Memory(
        home=isolated_home, project=project, config=MemoryConfig(), count_tokens=count_tokens
    )
    memory.entries.upsert(Entry("db", "decision", "Use PostgreSQL"))
    memory.close()

    renamed = registry.rename("shop", "shop-v2")
    assert (renamed.name, renamed.slug, renamed.workdir) == (
        "shop-v2",
        project.slug,
        work.resolve(),
    )
    assert renamed.data_dir(isolated_home) == project.data_dir(isolated_home)
    assert registry.get("shop") is None
    assert registry.for_directory(work) == renamed

    memory = Memory(
        home=isolated_home, project=renamed, config=MemoryConfig(), count_tokens=count_tokens
    )
    assert [e.value for e in memory.entries.all()] == ["Use PostgreSQL"]
    assert "## Project memory: shop-v2" in memory.prefix_text()
    memory.close()

    registry.create(folder(tmp_path / "other"))
    with pytest.raises(ProjectError, match="already exists"):
        registry.rename("shop-v2", "other")
    with pytest.raises(ProjectError, match="no project named"):
        registry.rename("nope", "whatever")
    with pytest.raises(ProjectError, match="invalid project name"):
        registry.rename("shop-v2", "bad/name")
    assert registry.get("shop-v2") is not None
    registry.conn.close()


def test_set_workdir_moves_a_project(registry: ProjectRegistry, tmp_path: Path) -> None:
    old, new = folder(tmp_path / "old-place"), folder(tmp_path / "new-place")
    project = registry.create(old, name="shop")
    moved = registry.set_workdir("shop", new)
    assert (moved.workdir, moved.slug) == (new.resolve(), project.slug)
    assert registry.for_directory(new) == moved
    assert registry.for_directory(old) is None
    with pytest.raises(ProjectError, match="is not a directory"):
        registry.set_workdir("shop", tmp_path / "missing")
    with pytest.raises(ProjectError, match="no project named"):
        registry.set_workdir("nope", new)


def test_glob_matching_and_delete(registry: ProjectRegistry, tmp_path: Path) -> None:
    for name in ("web-api", "web-ui", "cli", "webhooks"):
        registry.create(folder(tmp_path / name), name=name)
    assert sorted(p.name for p in registry.matching("web-*")) == ["web-api", "web-ui"]
    assert sorted(p.name for p in registry.matching("web*")) == ["web-api", "web-ui", "webhooks"]
    assert [p.name for p in registry.matching("w?b-ui")] == ["web-ui"]
    assert [p.name for p in registry.matching("cli")] == ["cli"]
    assert registry.matching("CLI") == []  # case matters
    assert registry.matching("nothing-*") == []

    for project in registry.matching("web-*"):
        registry.delete(project.name)
    assert sorted(p.name for p in registry.all()) == ["cli", "webhooks"]
    with pytest.raises(ProjectError, match="no project named 'web-api'"):
        registry.delete("web-api")


@pytest.mark.parametrize(
    "name",
    ["", "   ", "a/b", "../up", "-dash-first", ".hidden", "x" * 65, "star*", "semi;colon",
     "new\nline", "tab\tbed", "back\\slash", "quote'"],
)  # fmt: skip
def test_invalid_names_are_rejected(registry: ProjectRegistry, tmp_path: Path, name: str) -> None:
    with pytest.raises(ProjectError, match="invalid project name"):
        check_name(name)
    if name:  # an empty name means "named after the folder"
        with pytest.raises(ProjectError, match="invalid project name"):
            registry.create(folder(tmp_path / "w"), name=name)
        assert registry.all() == []


def test_valid_names(registry: ProjectRegistry, tmp_path: Path) -> None:
    for name in ("shop", "Shop 2", "my_proj.v2", "x" * 64, "проект", "a-b-c"):
        assert check_name(f"  {name} ") == name
    project = registry.create(folder(tmp_path / "w"), name=" spaced name ")
    assert project.name == "spaced name"


def test_a_folder_named_like_an_invalid_project_gets_a_valid_name(
    registry: ProjectRegistry, tmp_path: Path
) -> None:
    # Folder names can hold anything; the project is still created.
    odd = {".dotfiles": "dotfiles", "my;repo": "my-repo", "-x": "x", "...": "project",
           "y" * 80: "y" * 64, "a b.": "a b"}  # fmt: skip
    for folder_name, name in odd.items():
        project = registry.create(folder(tmp_path / folder_name))
        assert project.name == name
        assert registry.for_directory(tmp_path / folder_name) == project
    # A long name that is taken: the suffix still fits in the limit.
    again = registry.create(folder(tmp_path / "other" / ("y" * 80)))
    assert again.name == "y" * 62 + "-2"
    assert check_name(again.name) == again.name


REGISTRAR = r"""
import sys
from pathlib import Path

from mnemocode.memory.service import open_registry

home, directories = Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]
registry = open_registry(home)
print("ready", flush=True)
sys.stdin.readline()  # the barrier
for directory in directories:
    project = registry.resolve(directory)
    print(project.name, project.slug, flush=True)
"""


def test_processes_resolving_new_directories_together_create_one_project_each(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    works = [folder(tmp_path / "work" / f"shop{n}") for n in range(5)]
    open_registry(home).conn.close()  # the database exists: the race is on the rows
    script = tmp_path / "registrar.py"
    script.write_text(REGISTRAR, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(home), *(str(w) for w in works)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:  # go, all at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    expected = "\n".join(f"shop{n} {default_slug(w)}" for n, w in enumerate(works))
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == expected

    core = connect(home / "core.db", CORE_MIGRATIONS)
    rows = core.execute("SELECT name, workdir FROM projects ORDER BY name").fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (f"shop{n}", str(w.resolve())) for n, w in enumerate(works)
    ]
    core.close()
