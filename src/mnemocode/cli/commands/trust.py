"""The folder-trust part of ``/permissions``: show this folder's trust, revoke it."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.trust import TrustStore, check_trust, ignored_notice


def _env(home: Path) -> dict[str, str]:
    return {"MNEMO_HOME": str(home)}


def trust_lines(cwd: Path, home: Path) -> list[str]:
    """One line: whether this folder's project config is in effect, and why."""
    found = check_trust(cwd, _env(home), store=TrustStore(home))
    if found.request is None or found.status == "none":
        return ["folder trust: no project config here"]
    root = found.request.root
    if found.status == "trusted" and found.record is not None:
        endpoints = ", ".join(found.record.endpoints)
        confirmed = f"; confirmed model endpoints: {endpoints}" if endpoints else ""
        return [f"folder trust: {root} trusted on {found.record.at}{confirmed}"]
    return [f"folder trust: {ignored_notice(found) or 'not trusted'}"]


def trust_subcommand(cwd: Path, home: Path, words: list[str]) -> str:
    """``/permissions trust [revoke]``; the text to show."""
    if words == ["revoke"]:
        found = check_trust(cwd, _env(home), store=TrustStore(home))
        root = found.request.root if found.request else cwd
        if not TrustStore(home).revoke(root):
            return f"{root} was not trusted"
        return (
            f"revoked trust in {root}: its project config stays in effect until mnemo "
            "restarts; the next start asks again"
        )
    if words:
        return "usage: /permissions trust [revoke]"
    return "\n".join(trust_lines(cwd, home))
