"""`[memory] embeddings = true`: a session's messages are embedded by the queued
"embed" job, and search fuses the vector ranking with BM25 — a paraphrase with no
word in common is found."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.config.settings import MemoryConfig
from mnemocode.core.types import Message
from mnemocode.llm.testing import ScriptedModel, text
from mnemocode.llm.tokens import count_tokens
from mnemocode.memory.projects import ProjectRegistry
from mnemocode.memory.service import Memory, open_core


async def test_embed_job_makes_paraphrases_findable(tmp_path: Path, isolated_home: Path) -> None:
    registry = ProjectRegistry(open_core(isolated_home))
    project = registry.create(tmp_path)
    memory = Memory(
        home=isolated_home,
        project=project,
        config=MemoryConfig(embeddings=True, extract=False, trivial_turns=0),
        count_tokens=count_tokens,
    )
    memory.sessions.create("s1")
    memory.record(
        "s1",
        1,
        [
            Message.user("The nightly importer keeps timing out on the big customer file."),
            Message.assistant("I raised the HTTP client's read timeout to 120 seconds."),
            Message.user("Also the logo colours look off on dark backgrounds."),
        ],
    )
    query = "which network deadline did we change"
    # No word in common with the answer: BM25 alone finds nothing.
    assert memory.searcher.vector_search is not None
    bm25_only = Memory(
        home=isolated_home, project=project, config=MemoryConfig(), count_tokens=count_tokens
    )
    assert bm25_only.search(query, sources=("history",)) == []

    assert memory.end_session("s1")
    summary = {"title": "Importer timeouts", "topics": ["importer"]}
    model = ScriptedModel([text(json.dumps(summary))])
    report = await memory.run_jobs(model)
    assert report.done == 2  # summarize, embed
    assert memory.vectors is not None and memory.vectors.pending() == 0

    hits = memory.search(query, sources=("history",), limit=3)
    assert hits, "the vector side should find the paraphrase"
    assert hits[0].ref == "msg:s1:1"
    memory.close()
    bm25_only.close()
