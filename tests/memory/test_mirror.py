from __future__ import annotations

import random
import re

from mnemocode.memory.mirror import (
    MAX_DERIVED_KEY_LENGTH,
    SyncPlan,
    fingerprint,
    parse,
    plan_sync,
    render,
)
from mnemocode.memory.types import ENTRY_KINDS, ENTRY_STATUSES, Entry

GOLDEN = """\
# Project memory: demo

<!-- You can edit this file: add, change or delete bullets. mnemo picks up your \
changes the next time it starts, and your edits win over the agent's. \
Format: - **key** (status, pinned): text — why: reason -->

## Decisions

- **use-postgres** (reversed, pinned): Use PostgreSQL for storage — why: the team knows it
- **use-sqlite**: SQLite per project

## Open tasks

- **write-docs**: Write the docs
  then the changelog

## Notes

- **a\\*\\*b**: bold **text** — why: odd key
"""


def golden_entries() -> list[Entry]:
    return [
        Entry("write-docs", "task", "Write the docs\nthen the changelog"),
        Entry("use-sqlite", "decision", "SQLite per project", source="judge", id=4),
        Entry("a**b", "note", "bold **text**", "odd key"),
        Entry(
            "use-postgres",
            "decision",
            "Use PostgreSQL for storage",
            "the team knows it",
            status="reversed",
            pinned=True,
        ),
    ]


def comparable(entries: list[Entry]) -> dict[str, tuple[str, str, str, str, bool]]:
    return {e.key: (e.kind, e.value, e.rationale, e.status, e.pinned) for e in entries}


def by_key(entries: list[Entry]) -> dict[str, Entry]:
    return {e.key: e for e in entries}


# --- rendering and round trip ------------------------------------------------------


def test_render_matches_golden_text() -> None:
    assert render(golden_entries(), project="demo") == GOLDEN


def test_render_omits_empty_sections_and_follows_kind_order() -> None:
    text = render([Entry("b", "fact", "x"), Entry("a", "architecture", "y")], project="p")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == ["Architecture", "Facts"]


def test_parse_of_golden_text_gives_the_entries_back_as_mirror_entries() -> None:
    parsed = parse(GOLDEN)
    assert comparable(parsed) == comparable(golden_entries())
    assert {e.source for e in parsed} == {"mirror"}
    assert [e.key for e in parsed] == ["use-postgres", "use-sqlite", "write-docs", "a**b"]


MARKUP = [
    "**", "*", "\\", "\\\\", "\\*", "&#10;", "&#x41;", "&#", "&amp;", "— why:", " — why: ",
    "-- why:", "- WHY:", "– Why:", "why:", "(", ")", "(pinned)", ":", "- ", "* ", "## ",
    "# ", "<!--", "-->", "\n- **x**: y", "\n\n", "`", "---", "1. ", "  ", "\t",
]  # fmt: skip
WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1f", "\x85", "\xa0",
              "\u2028", "\u2029", "\u3000"]  # fmt: skip


def random_text(rng: random.Random, *, min_length: int = 0) -> str:
    pieces: list[str] = []
    for _ in range(rng.randint(min_length, 12)):
        pick = rng.random()
        if pick < 0.3:
            pieces.append(rng.choice(MARKUP))
        elif pick < 0.5:
            pieces.append(rng.choice(WHITESPACE))
        elif pick < 0.7:
            pieces.append(
                chr(rng.choice([rng.randint(0xA1, 0xD7FF), rng.randint(0x1F300, 0x1FAFF)]))
            )
        else:
            pieces.append(rng.choice(["word", "x", "Use", "a", "é", "日本"]))
    return "".join(pieces)


def random_entries(rng: random.Random) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for _ in range(rng.randint(1, 8)):
        key = random_text(rng, min_length=1)
        entries[key] = Entry(
            key=key,
            kind=rng.choice(ENTRY_KINDS),
            value=random_text(rng),
            rationale=random_text(rng) if rng.random() < 0.6 else "",
            status=rng.choice(ENTRY_STATUSES),
            pinned=rng.random() < 0.3,
        )
    return list(entries.values())


def test_round_trip_holds_for_random_unicode_newline_and_markup_entries() -> None:
    rng = random.Random(20240611)
    for case in range(400):
        entries = random_entries(rng)
        text = render(entries, project=random_text(rng))
        assert comparable(parse(text)) == comparable(entries), (case, text)
        # Only "\n" breaks lines and no line ends in whitespace, so editors that
        # normalise either leave the meaning (and the fingerprint) alone.
        assert text.splitlines() == text.split("\n")[:-1], case
        assert all(line == line.rstrip() for line in text.split("\n")), case
        trimmed = "\r\n".join(line.rstrip() for line in text.split("\n"))
        assert comparable(parse(trimmed)) == comparable(entries), case
        assert fingerprint(trimmed) == fingerprint(text)
        assert render(parse(text), project="p") == render(entries, project="p")


# --- hand edits ------------------------------------------------------------------


def test_bullet_added_without_key_gets_a_unique_slug_key() -> None:
    text = GOLDEN.replace(
        "- **use-sqlite**",
        "- Use PostgreSQL for storage: it is what the team knows best, by far\n"
        "+ Use PostgreSQL for storage — why: second time\n"
        "- **use-sqlite**",
    )
    added = [e for e in parse(text) if e.key not in comparable(golden_entries())]
    assert [(e.key, e.kind, e.value, e.rationale) for e in added] == [
        (
            "use-postgresql-for-storage-it-is-what",
            "decision",
            "Use PostgreSQL for storage: it is what the team knows best, by far",
            "",
        ),
        ("use-postgresql-for-storage", "decision", "Use PostgreSQL for storage", "second time"),
    ]
    assert all(len(e.key) <= MAX_DERIVED_KEY_LENGTH for e in added)


def test_derived_keys_never_collide_with_explicit_or_other_derived_keys() -> None:
    text = "## Facts\n\n- same words\n- same words\n- **same-words**: explicit, later\n"
    keys = [e.key for e in parse(text)]
    assert sorted(keys) == ["same-words", "same-words-2", "same-words-3"]
    assert by_key(parse(text))["same-words"].value == "explicit, later"


def test_long_derived_key_is_cut_to_the_limit_and_made_unique_within_it() -> None:
    word = "a" * 60
    keys = [e.key for e in parse(f"- {word}\n- {word}\n")]
    assert keys == ["a" * 40, "a" * 38 + "-2"]


def test_edited_value_removed_bullet_and_moved_bullet_are_read_as_edited() -> None:
    text = (
        GOLDEN.replace("SQLite per project", "SQLite, one file per project")
        .replace("- **use-postgres** (reversed, pinned): Use PostgreSQL for storage"
                 " — why: the team knows it\n", "")
        .replace("## Notes\n\n- **a\\*\\*b**: bold **text** — why: odd key\n", "")
        .replace("  then the changelog\n",
                 "  then the changelog\n## Facts\n- **a\\*\\*b**: bold **text** — why: odd key\n")
    )  # fmt: skip
    parsed = by_key(parse(text))
    assert sorted(parsed) == ["a**b", "use-sqlite", "write-docs"]
    assert parsed["use-sqlite"].value == "SQLite, one file per project"
    assert parsed["a**b"].kind == "fact"
    assert parsed["write-docs"].value == "Write the docs\nthen the changelog"


def test_status_and_pinned_words_typed_by_hand_in_any_case() -> None:
    text = "## Decisions\n* **use-mongo** (Rejected, PINNED): Use MongoDB -- why: no joins\n"
    [entry] = parse(text)
    assert (entry.key, entry.status, entry.pinned) == ("use-mongo", "rejected", True)
    assert (entry.value, entry.rationale) == ("Use MongoDB", "no joins")


def test_unknown_headings_comments_blank_lines_and_rules_are_tolerated() -> None:
    text = (
        "\ufeff# Project memory: x\r\n\r\n<!-- a comment\n- **not-an-entry**: hidden\n-->\n"
        "## Random thoughts\n\n- **idea**: try caching\n\n---\n\n"
        "## TASKS\n1. **ship**: ship it\n   before Friday\n\n   really\nlazily\n\n"
        "A paragraph typed instead of a bullet\n"
    )
    parsed = by_key(parse(text))
    assert sorted(parsed) == ["a-paragraph-typed-instead-of-a-bullet", "idea", "ship"]
    assert parsed["idea"].kind == "note"
    assert parsed["ship"].kind == parsed["a-paragraph-typed-instead-of-a-bullet"].kind == "task"
    assert parsed["ship"].value == "ship it\nbefore Friday\n\nreally\nlazily"


def test_key_value_and_rationale_are_trimmed_and_unknown_backslashes_kept() -> None:
    [entry] = parse("- ** path ** :   C:\\Users\\me\\src   —   why:   windows  \n")
    assert (entry.key, entry.value, entry.rationale) == ("path", "C:\\Users\\me\\src", "windows")


# --- three-way merge ----------------------------------------------------------------


def entry(key: str, value: str, **changes: object) -> Entry:
    made = Entry(key, "fact", value)
    for name, new in changes.items():
        setattr(made, name, new)
    return made


def test_untouched_file_plans_nothing_even_if_the_db_changed() -> None:
    base = [entry("a", "1"), entry("b", "2")]
    db = [entry("a", "1 changed by agent"), entry("c", "new from agent")]
    assert plan_sync(db, [entry("a", "1"), entry("b", "2")], base) == SyncPlan()


def test_user_edit_add_and_delete_become_upserts_and_deletes() -> None:
    base = [entry("a", "1"), entry("b", "2"), entry("c", "3")]
    file = [entry("a", "1 edited"), entry("c", "3"), entry("d", "added", kind="task")]
    plan = plan_sync(list(base), file, base)
    assert [(e.key, e.value) for e in plan.upserts] == [("a", "1 edited"), ("d", "added")]
    assert plan.deletes == ["b"]
    assert plan.conflicts == []


def test_changes_on_both_sides_are_conflicts_resolved_for_the_user() -> None:
    base = [entry("edited", "0"), entry("deleted", "0"), entry("gone", "0"), entry("agree", "0")]
    db = [entry("edited", "db"), entry("deleted", "db"), entry("agree", "same")]
    file = [entry("edited", "mine"), entry("gone", "mine"), entry("agree", "same"),
            entry("new", "mine")]  # fmt: skip
    db.append(entry("new", "db"))
    plan = plan_sync(db, file, base)
    assert [(e.key, e.value) for e in plan.upserts] == [
        ("edited", "mine"),
        ("gone", "mine"),
        ("new", "mine"),
    ]
    assert plan.deletes == ["deleted"]
    assert plan.conflicts == ["deleted", "edited", "gone", "new"]


def test_deleted_on_both_sides_plans_nothing() -> None:
    assert plan_sync([], [], [entry("a", "1")]) == SyncPlan()


def test_comparison_covers_kind_status_pinned_rationale_and_ignores_bookkeeping() -> None:
    base = [entry(k, "v") for k in ("kind", "status", "pinned", "why", "meta")]
    file = [
        entry("kind", "v", kind="task"),
        entry("status", "v", status="done"),
        entry("pinned", "v", pinned=True),
        entry("why", "v", rationale="because"),
        entry("meta", "v", source="mirror", id=9, created=5.0, updated=6.0, session_id="s"),
    ]
    plan = plan_sync(list(base), file, base)
    assert [e.key for e in plan.upserts] == ["kind", "pinned", "status", "why"]


def test_without_base_only_differences_from_db_are_upserts_and_nothing_is_deleted() -> None:
    db = [entry("same", "1"), entry("changed", "2"), entry("db-only", "3")]
    file = [entry("same", "1", source="mirror"), entry("changed", "2 mine"), entry("new", "4")]
    plan = plan_sync(db, file, None)
    assert [(e.key, e.value) for e in plan.upserts] == [("changed", "2 mine"), ("new", "4")]
    assert plan.deletes == []
    assert plan.conflicts == []


def test_sync_through_the_file_round_trip() -> None:
    db = golden_entries()
    written = render(db, project="demo")
    edited = written.replace("Write the docs", "Write the user docs").replace(
        "- **use-sqlite**: SQLite per project\n",
        "- **use-sqlite** (Rejected): SQLite per project\n",
    )
    db[0].value = "Write the docs\nand the changelog"  # the agent changed write-docs too
    plan = plan_sync(db, parse(edited), parse(written))
    assert [(e.key, e.value, e.status) for e in plan.upserts] == [
        ("use-sqlite", "SQLite per project", "rejected"),
        ("write-docs", "Write the user docs\nthen the changelog", "active"),
    ]
    assert plan.conflicts == ["write-docs"]
    assert plan.deletes == []


# --- fingerprint ----------------------------------------------------------------------


def test_fingerprint_ignores_line_endings_and_trailing_whitespace_only() -> None:
    noisy = "\ufeff\n" + GOLDEN.replace("\n", "  \r\n") + "\n\n"
    assert fingerprint(noisy) == fingerprint(GOLDEN)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(GOLDEN))
    assert fingerprint(GOLDEN.replace("SQLite", "SQLite 3")) != fingerprint(GOLDEN)
