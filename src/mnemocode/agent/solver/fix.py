"""Step 5, fix: what an edit-only fix call is told — the new failures of the
project's checks (and any operation that failed)."""

from __future__ import annotations

from collections.abc import Sequence


def fix_prompt(failures: str, errors: Sequence[str], cycle: int, cycles: int) -> str:
    parts = [f"Fix cycle {cycle} of {cycles}. The change is not done yet."]
    if errors:
        parts.append("These operations failed:\n" + "\n".join(f"- {e}" for e in errors))
    if failures:
        parts.append(f"These checks fail since the change:\n{failures}")
    parts.append("Fix them with edit or write calls only; change nothing else.")
    return "\n\n".join(parts)
