"""SEARCH/REPLACE edit blocks on aider's whole corpus (``aider-editblock/`` in the data
folder: 4.1 MB of real model replies and the blocks a correct parser extracts).

The checks are those of ``tests/tools/test_editblock_corpus.py``, which runs them on
the slice vendored in ``tests/data/aider-editblock/``; here they run on every section,
with the time to parse a reply.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from tests.tools.test_editblock_corpus import (
    DAMAGES,
    VENDORED,
    Corpus,
    blocks,
    damaged_counts,
    gold_counts,
    located_counts,
    sections,
    typo_outcome,
)

from bench.common import ROOT, data_file, percentile, take_data_option
from mnemocode.tools.editblock import EditBlockError, parse_edit_blocks


def _parse_times(corpus: Corpus) -> list[float]:
    samples = []
    for section in sections(corpus):
        start = time.perf_counter()
        with contextlib.suppress(EditBlockError):
            parse_edit_blocks(section.content, section.fence)
        samples.append(time.perf_counter() - start)
    return samples


def _rows(corpus: Corpus) -> list[tuple[str, str]]:
    same, in_gold, gold_sections = gold_counts(corpus)
    located, new_files = located_counts(corpus)
    rows = [
        ("reply sections / sections with blocks", f"{len(sections(corpus)):,} / {gold_sections}"),
        ("parser output equals the gold byte for byte", "yes" if same else "**no**"),
        ("edit blocks parsed / in the gold", f"{len(blocks(corpus))} / {in_gold}"),
        ("search text found where the gold says", f"{located} (+ {new_files} new files)"),
    ]
    for damage, level, damage_replace in DAMAGES:
        found, applied = damaged_counts(corpus, damage, level, damage_replace)
        rows.append(
            (
                f"{level} damage: found at the same place / applied (one match)",
                f"{found} / {applied}",
            )
        )
    typo = typo_outcome(corpus)
    rows.append(
        (
            "one typo: found at the same place / refused / elsewhere",
            f"{typo['found']} / {typo['refused']} / {typo['elsewhere']}",
        )
    )
    return rows


def run() -> str:
    full = Corpus(data_file("aider-editblock"))
    data_file("aider-editblock/chat-history-search-replace-gold.txt")
    times = _parse_times(full)
    slice_rows = dict(_rows(VENDORED))
    lines = [
        "## Edit blocks (aider's corpus)",
        "",
        "The SEARCH/REPLACE parser and the edit engine on aider's `chat-history.md` (real "
        "model replies) against its gold file of extracted blocks; the test suite runs the "
        "same checks on the slice in `tests/data/aider-editblock/`. Damage: trailing and "
        "doubled spaces (whitespace level), four spaces of indentation (indent level), one "
        "changed character in the middle line (fuzzy level; replies with the REPLACE "
        "bodies removed). Found elsewhere must stay 0.",
        "",
        "| measure | full corpus | test slice |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value} | {slice_rows[name]} |" for name, value in _rows(full)]
    p50, p99, top = (percentile(times, q) * 1e6 for q in (50, 99, 100))
    lines += [
        "",
        f"Parsing one reply (`parse_edit_blocks`, {len(times):,} replies): p50 {p50:.1f} µs, "
        f"p99 {p99:.0f} µs, max {top / 1000:.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m bench.editblock [--data <folder>]
    take_data_option(sys.argv[1:])
    os.chdir(ROOT)
    print(run())
