"""propose_ops against ScriptedModel: what the judge sees, how its operations are
validated and tidied against the current memory."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mnemocode.core.types import Message
from mnemocode.llm.testing import ScriptedModel, text
from mnemocode.memory.extraction import MemoryOp, MemoryOps, propose_ops, slugify_key
from mnemocode.memory.structured import StructuredOutputError
from mnemocode.memory.types import DEFAULT_DIMENSION, Entry, Trait

PROJECT = [
    Entry("db-choice", "decision", "Use PostgreSQL", rationale="JSONB queries"),
    Entry("test-command", "convention", "uv run pytest -q", pinned=True),
    Entry("Old Note", "note", "legacy key with spaces"),
]
CORE = [Trait("communication", "terse-answers", "Prefers short answers", stability_days=60.0)]


def session() -> list[Message]:
    return [
        Message.user(
            "Postgres is overkill here, switch us to SQLite. And stop explaining so much."
        ),
        Message.assistant(
            "Switching.\n```python\nengine = create_engine('sqlite:///app.db')\n"
            "Session = sessionmaker(engine)\nBase.metadata.create_all(engine)\n"
            "session_factory = Session\n```"
        ),
    ]


def reply(*ops: dict[str, Any]) -> str:
    return json.dumps({"ops": list(ops)})


async def propose(script: list[str]) -> tuple[MemoryOps, ScriptedModel]:
    model = ScriptedModel([text(item) for item in script])
    ops = await propose_ops(model, session(), current_project=PROJECT, current_core=CORE)
    return ops, model


async def test_the_judge_sees_the_current_memory_the_schema_and_the_transcript() -> None:
    _, model = await propose([reply()])
    (request,) = model.requests
    system = "".join(block.text for block in request.system)
    assert json.dumps(MemoryOps.model_json_schema(), ensure_ascii=False) in system
    assert 'status "reversed"' in system
    assert "communication, autonomy, tools, languages, workflow, preferences" in system
    assert "secrets" in system
    user = request.messages[0].text
    assert "- db-choice [decision, active]: Use PostgreSQL (why: JSONB queries)" in user
    assert "- test-command [convention, active, pinned]: uv run pytest -q" in user
    assert "- terse-answers [communication]: Prefers short answers" in user
    assert "user: Postgres is overkill here, switch us to SQLite." in user
    assert "[code: 4 lines of python]" in user
    assert "create_engine" not in user


async def test_a_reversal_marks_the_old_key_and_adds_the_new_decision() -> None:
    ops, _ = await propose(
        [
            reply(
                {
                    "op": "update",
                    "layer": "project",
                    "key": "db-choice",
                    "value": "Use PostgreSQL",
                    "kind": "decision",
                    "status": "reversed",
                    "rationale": "replaced by SQLite: Postgres was overkill",
                },
                {
                    "op": "add",
                    "layer": "project",
                    "key": "db-sqlite",
                    "value": "Use SQLite",
                    "kind": "decision",
                    "rationale": "a single-user app needs no server",
                },
                {"op": "update", "layer": "core", "key": "terse-answers", "value": "Wants terse"},
            )
        ]
    )
    old, new, trait = ops.ops
    assert (old.op, old.key, old.status, old.kind) == (
        "update",
        "db-choice",
        "reversed",
        "decision",
    )
    assert (new.op, new.key, new.status, new.value) == ("add", "db-sqlite", "active", "Use SQLite")
    # no dimension given: the existing trait's, so the store finds it
    assert (trait.layer, trait.dimension, trait.kind) == ("core", "communication", None)


async def test_fenced_reply_with_defaults_filled_in() -> None:
    body = reply(
        {"op": "add", "layer": "project", "key": "orm", "value": "SQLAlchemy 2 style"},
        {"op": "add", "layer": "core", "key": "likes-uv", "value": "Uses uv", "dimension": "Tools"},
        {"op": "add", "layer": "core", "key": "x", "value": "y", "dimension": "mood"},
        {"op": "add", "layer": "core", "key": "z", "value": "y"},
        {"op": "add", "layer": "project", "key": "k", "value": "v", "kind": "whatever"},
    )
    ops, _ = await propose([f"Here you go:\n```json\n{body}\n```"])
    orm, uv, mood, unset, odd = ops.ops
    assert (orm.kind, orm.dimension) == ("fact", None)
    assert (uv.dimension, uv.kind) == ("tools", None)
    assert mood.dimension == unset.dimension == DEFAULT_DIMENSION
    assert odd.kind == "fact"


async def test_ops_are_tidied_against_existing_keys() -> None:
    ops, _ = await propose(
        [
            reply(
                {"op": "add", "layer": "project", "key": "DB Choice", "value": "Use SQLite"},
                {"op": "update", "layer": "project", "key": "brand-new", "value": "New thing"},
                {"op": "delete", "layer": "project", "key": "never-existed"},
                {"op": "delete", "layer": "project", "key": "old-note"},
                {"op": "add", "layer": "core", "key": "Terse_Answers", "value": "Very terse"},
            )
        ]
    )
    assert [(op.op, op.layer, op.key) for op in ops.ops] == [
        ("update", "project", "db-choice"),
        ("add", "project", "brand-new"),
        ("delete", "project", "Old Note"),
        ("update", "core", "terse-answers"),
    ]


async def test_ops_carrying_secrets_are_dropped() -> None:
    token = "ghp_" + "A1b2C3d4E5" * 4
    ops, _ = await propose(
        [
            reply(
                {"op": "add", "layer": "project", "key": "gh-token", "value": f"token {token}"},
                {"op": "add", "layer": "project", "key": "api", "value": "[REDACTED:api-key]"},
                {"op": "add", "layer": "project", "key": "ci", "value": "CI runs on GitHub"},
            )
        ]
    )
    assert [op.key for op in ops.ops] == ["ci"]


async def test_an_add_without_value_is_retried_with_the_error() -> None:
    invalid = reply({"op": "add", "layer": "project", "key": "orm"})
    valid = reply({"op": "add", "layer": "project", "key": "orm", "value": "SQLAlchemy"})
    ops, model = await propose([invalid, valid])
    assert [op.value for op in ops.ops] == ["SQLAlchemy"]
    assert len(model.requests) == 2
    retry = model.requests[1].messages[-1].text
    assert "validation error" in retry
    assert "add of 'orm' needs a value" in retry


async def test_two_unusable_replies_raise() -> None:
    with pytest.raises(StructuredOutputError, match="MemoryOps"):
        await propose(["no idea", reply({"op": "merge", "layer": "project", "key": "a"})])


def test_memory_op_validation() -> None:
    assert MemoryOp(op="delete", layer="project", key="x").kind == "fact"
    assert MemoryOp.model_validate(
        {"op": "ADD", "layer": "user", "key": "k", "value": "v"}
    ).layer == ("core")
    with pytest.raises(ValidationError, match="needs a value"):
        MemoryOp(op="update", layer="core", key="k", value="  ")
    with pytest.raises(ValidationError, match="kebab-case"):
        MemoryOp(op="add", layer="core", key="???", value="v")
    assert slugify_key("  Prefers Short_Answers!! ") == "prefers-short-answers"
