"""Numbered schema migrations, only ever appended (never edited once shipped).

Full-text search uses FTS5 external-content tables kept in step by triggers, with
the Porter stemmer, so a query is one index lookup — nothing is re-tokenised in
Python per row.
"""

from __future__ import annotations

import sqlite3

from mnemocode.memory.db import Migration

FTS_TOKENIZE = "tokenize = 'porter unicode61 remove_diacritics 2'"


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the migration's transaction (``executescript``
    would commit it)."""
    statement = ""
    for line in sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def _fts(conn: sqlite3.Connection, table: str, columns: list[str]) -> None:
    """An FTS5 index over ``table``'s ``columns``, maintained by triggers."""
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    _script(
        conn,
        f"""
        CREATE VIRTUAL TABLE {table}_fts USING fts5(
            {cols}, content='{table}', content_rowid='id', {FTS_TOKENIZE}
        );
        CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN
            INSERT INTO {table}_fts(rowid, {cols}) VALUES (new.id, {new});
        END;
        CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN
            INSERT INTO {table}_fts({table}_fts, rowid, {cols}) VALUES ('delete', old.id, {old});
        END;
        CREATE TRIGGER {table}_au AFTER UPDATE OF {cols} ON {table} BEGIN
            INSERT INTO {table}_fts({table}_fts, rowid, {cols}) VALUES ('delete', old.id, {old});
            INSERT INTO {table}_fts(rowid, {cols}) VALUES (new.id, {new});
        END;
        """,
    )


# ---- the global database (~/.mnemo/core.db) -------------------------------------


def m001_core_traits(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE traits (
            id INTEGER PRIMARY KEY,
            dimension TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            stability_days REAL NOT NULL,
            reinforcements INTEGER NOT NULL DEFAULT 0,
            last_seen REAL NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            deleted REAL,
            UNIQUE (dimension, key)
        )
        """
    )
    _fts(conn, "traits", ["key", "value"])


def m002_core_projects(conn: sqlite3.Connection) -> None:
    # The project registry. ``slug`` names the data folder and never changes, so a
    # rename keeps everything attached.
    conn.execute(
        """
        CREATE TABLE projects (
            name TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            workdir TEXT NOT NULL,
            created REAL NOT NULL,
            last_used REAL NOT NULL
        )
        """
    )


CORE_MIGRATIONS: list[Migration] = [m001_core_traits, m002_core_projects]


# ---- one database per project (~/.mnemo/projects/<slug>/memory.db) -------------


def m001_project_entries(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            rationale TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active',
            pinned INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT 'user',
            session_id TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            deleted REAL
        )
        """
    )
    _fts(conn, "entries", ["key", "value", "rationale"])


def m002_project_sessions(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            started REAL NOT NULL,
            updated REAL NOT NULL,
            ended REAL,
            turns INTEGER NOT NULL DEFAULT 0
        );
        -- The verbatim transcript. ``payload`` is the whole message as JSON (tool
        -- calls and results included); ``text`` is what search sees, and ``context``
        -- the neighbouring messages, weighted lower, so an answer is found by the
        -- question that led to it. ``compacted``: replaced in the live history by a
        -- summary, still here and searchable.
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            turn INTEGER NOT NULL,
            role TEXT NOT NULL,
            payload TEXT NOT NULL,
            text TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            compacted INTEGER NOT NULL DEFAULT 0,
            UNIQUE (session_id, seq)
        );
        CREATE INDEX messages_created ON messages(created);
        -- A compaction replaces messages [0, upto_seq) of the live history by
        -- ``summary``; resume loads the latest one and the messages after it.
        CREATE TABLE compactions (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            upto_seq INTEGER NOT NULL,
            summary TEXT NOT NULL,
            created REAL NOT NULL
        );
        """,
    )
    _fts(conn, "messages", ["text", "context"])


def m003_project_summaries(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE summaries (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            level INTEGER NOT NULL DEFAULT 0,
            started REAL NOT NULL,
            ended REAL NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            covers TEXT NOT NULL DEFAULT '[]',
            consolidated_into INTEGER,
            created REAL NOT NULL
        )
        """
    )
    _fts(conn, "summaries", ["title", "body"])


def m004_project_jobs(conn: sqlite3.Connection) -> None:
    # Durable work: extraction and summaries that a process could not finish are
    # picked up at the next start. A lease (``lease_until``) lets a crashed
    # runner's job be taken over; ``attempts`` stops a job that always fails.
    _script(
        conn,
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            session_id TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_until REAL,
            error TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            UNIQUE (kind, session_id, payload)
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    )


def m005_project_vectors(conn: sqlite3.Connection) -> None:
    # Embeddings for memory search (the optional extra): one vector per searchable
    # row, named by ``ref`` as search hits are, under the model that made it;
    # ``when_ts`` and ``text`` are the source row's as embedded, so a changed row
    # shows as stale. ``vectors_state.deletions`` counts deleted rows, so a process
    # holding the vectors in memory knows when a refresh by rowid is not enough.
    _script(
        conn,
        """
        CREATE TABLE vectors (
            ref TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            when_ts REAL NOT NULL,
            session_id TEXT,
            text TEXT NOT NULL
        );
        CREATE INDEX vectors_model ON vectors(model, dim);
        CREATE TABLE vectors_state (
            id INTEGER PRIMARY KEY CHECK (id = 0),
            deletions INTEGER NOT NULL
        );
        INSERT INTO vectors_state (id, deletions) VALUES (0, 0);
        CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN
            UPDATE vectors_state SET deletions = deletions + 1 WHERE id = 0;
        END;
        """,
    )


PROJECT_MIGRATIONS: list[Migration] = [
    m001_project_entries,
    m002_project_sessions,
    m003_project_summaries,
    m004_project_jobs,
    m005_project_vectors,
]
