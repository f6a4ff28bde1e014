"""Memory: what mnemo remembers about the user (global), each project, past
sessions and the current one. SQLite (WAL, FTS5) underneath."""
