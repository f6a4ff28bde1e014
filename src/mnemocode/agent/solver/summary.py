"""The one line that ends a solved turn, e.g.
``edit src/x.py · write tests/test_x.py · ruff passed · pytest 6 passed · review ok``."""

from __future__ import annotations

from collections.abc import Sequence

from mnemocode.agent.solver.verify import Verdict


def summary_line(operations: Sequence[str], verdicts: Sequence[Verdict], review: str) -> str:
    seen: list[str] = []
    for op in operations:
        if op not in seen:
            seen.append(op)
    parts = [*seen, *(v.words() for v in verdicts)]
    if review:
        parts.append(review)
    return " · ".join(parts)
