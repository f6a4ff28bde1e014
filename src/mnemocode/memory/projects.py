"""The project registry (in the global ``core.db``).

A project is a name, a work directory and a data folder
(``<home>/projects/<slug>/``: memory database, checkpoints, audit log). The
slug is fixed when the project is created, so renaming a project or moving its
work directory keeps everything attached.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mnemocode.core.errors import MnemoError
from mnemocode.memory.db import transaction

_NAME = re.compile(r"^[\w][\w.\- ]{0,63}$")
_NOT_NAME = re.compile(r"[^\w.\- ]+")
MAX_NAME = 64


class ProjectError(MnemoError):
    pass


@dataclass(slots=True, frozen=True)
class Project:
    name: str
    slug: str
    workdir: Path
    created: float
    last_used: float

    def data_dir(self, home: Path) -> Path:
        return home / "projects" / self.slug


def default_slug(workdir: Path) -> str:
    resolved = workdir.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return f"{resolved.name or 'root'}-{digest}"


def _project(row: sqlite3.Row) -> Project:
    return Project(row["name"], row["slug"], Path(row["workdir"]), row["created"], row["last_used"])


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name) or "*" in name:
        raise ProjectError(
            f"invalid project name {name!r}: letters, digits, '.', '-', '_' and spaces, "
            "at most 64 characters"
        )
    return name


def name_for_folder(folder: str) -> str:
    """A valid project name made from a folder's name (which may hold anything)."""
    name = _NOT_NAME.sub("-", folder)
    name = re.sub(r"^[^\w]+", "", name)[:MAX_NAME].rstrip(" .-")
    return name or "project"


def _with_suffix(base: str, n: int) -> str:
    suffix = f"-{n}"
    return base[: MAX_NAME - len(suffix)].rstrip(" .-") + suffix


class ProjectRegistry:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def all(self) -> list[Project]:
        rows = self.conn.execute("SELECT * FROM projects ORDER BY last_used DESC").fetchall()
        return [_project(r) for r in rows]

    def get(self, name: str) -> Project | None:
        row = self.conn.execute("SELECT * FROM projects WHERE name = ?", (name,)).fetchone()
        return _project(row) if row else None

    def require(self, name: str) -> Project:
        project = self.get(name)
        if project is None:
            known = ", ".join(p.name for p in self.all()) or "none"
            raise ProjectError(f"no project named {name!r} (projects: {known})")
        return project

    def for_directory(self, directory: Path) -> Project | None:
        """The project whose work directory contains ``directory``; the most
        specific (deepest) one wins."""
        here = directory.resolve()
        best: Project | None = None
        for project in self.all():
            contains = here == project.workdir or project.workdir in here.parents
            deeper = best is None or len(project.workdir.parts) > len(best.workdir.parts)
            if contains and deeper:
                best = project
        return best

    def create(self, workdir: Path, name: str | None = None) -> Project:
        """Register a project for ``workdir`` (named after its folder unless given;
        a taken name gets a numeric suffix when not given explicitly)."""
        workdir = workdir.resolve()
        base = check_name(name) if name else name_for_folder(workdir.name or "root")
        with transaction(self.conn):
            # Another project has this folder's slug (a second project on the same
            # folder): the next free numbered one.
            slug = first = default_slug(workdir)
            n = 1
            while self.conn.execute("SELECT 1 FROM projects WHERE slug = ?", (slug,)).fetchone():
                n += 1
                slug = f"{first}-{n}"
            chosen = base
            n = 1
            while self.conn.execute("SELECT 1 FROM projects WHERE name = ?", (chosen,)).fetchone():
                if name:
                    raise ProjectError(f"a project named {name!r} already exists")
                n += 1
                chosen = _with_suffix(base, n)
            now = time.time()
            self.conn.execute(
                "INSERT INTO projects (name, slug, workdir, created, last_used) "
                "VALUES (?, ?, ?, ?, ?)",
                (chosen, slug, str(workdir), now, now),
            )
        return self.require(chosen)

    def resolve(self, directory: Path, *, root: Path | None = None) -> Project:
        """The project for ``directory``, created (for ``root`` or the directory)
        when there is none."""
        # Looked up and created under one write lock: two terminals opening a new
        # project at once make one project, not two.
        with transaction(self.conn):
            found = self.for_directory(directory)
            if found is not None:
                self.touch(found.name)
                return found
            return self.create(root or directory)

    def touch(self, name: str) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE projects SET last_used = ? WHERE name = ?", (time.time(), name)
            )

    def rename(self, old: str, new: str) -> Project:
        new = check_name(new)
        with transaction(self.conn):
            self.require(old)
            if self.get(new) is not None:
                raise ProjectError(f"a project named {new!r} already exists")
            self.conn.execute("UPDATE projects SET name = ? WHERE name = ?", (new, old))
        return self.require(new)

    def set_workdir(self, name: str, workdir: Path) -> Project:
        workdir = workdir.resolve()
        if not workdir.is_dir():
            raise ProjectError(f"{workdir} is not a directory")
        with transaction(self.conn):
            self.require(name)
            self.conn.execute(
                "UPDATE projects SET workdir = ? WHERE name = ?", (str(workdir), name)
            )
        return self.require(name)

    def matching(self, pattern: str) -> list[Project]:
        """Projects named ``pattern`` exactly, or matching it as a glob."""
        exact = self.get(pattern)
        if exact is not None:
            return [exact]
        return [p for p in self.all() if fnmatch.fnmatchcase(p.name, pattern)]

    def delete(self, name: str) -> Project:
        with transaction(self.conn):
            project = self.require(name)
            self.conn.execute("DELETE FROM projects WHERE name = ?", (name,))
        return project
