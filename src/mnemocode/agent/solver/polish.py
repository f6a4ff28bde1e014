"""Step 7, polish: one edit-only call when the review found problems (the pipeline
verifies again afterwards)."""

from __future__ import annotations

from collections.abc import Sequence


def polish_prompt(problems: Sequence[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems) or "- (no details given)"
    return (
        f"A review of the change found these problems:\n{listed}\n\n"
        "Fix them with edit or write calls only; change nothing else."
    )
