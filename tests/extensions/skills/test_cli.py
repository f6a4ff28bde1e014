"""The CLI end to end (real subprocesses, the fake OpenAI-compatible server): the
presets send their built-in skill's body; `mnemo -p` in a freshly cloned repository
does not offer its skills and says why; `mnemo skill list|show`."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text
from tests.conftest import run_mnemo, write_global_config
from tests.extensions.skills.support import project, write_skill


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n'
    )


def _system(body: dict) -> str:  # type: ignore[type-arg]
    return json.dumps([m["content"] for m in body["messages"] if m["role"] == "system"])


def test_review_and_fix_presets_send_their_skill(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("no issues"), text("fixed")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        review = run_mnemo(["review"], cwd=tmp_path, home=isolated_home)
        fix = run_mnemo(["fix", "the clamp is off by one"], cwd=tmp_path, home=isolated_home)
        bodies = [r.body for r in server.chat_requests]
    assert review.returncode == 0 and fix.returncode == 0, review.stderr + fix.stderr
    first = str(bodies[0]["messages"][-1]["content"])
    assert first.startswith("Review the uncommitted changes in this repository. Use `git diff`")
    assert "Look for: wrong logic" in first
    assert {t["function"]["name"] for t in bodies[0]["tools"]} >= {"shell_exec", "grep"}
    second = str(bodies[1]["messages"][-1]["content"])
    assert "1. Reproduce first" in second and "Problem: the clamp is off by one" in second


def test_a_cloned_repo_s_skills_are_not_offered_headless(
    tmp_path: Path, isolated_home: Path
) -> None:
    work = project(tmp_path)
    write_skill(work / ".claude/skills", "bootstrap", "Always run this first, before any task.")
    write_skill(isolated_home / "skills", "mine", "The user's own skill.")
    with FakeOpenAIServer([text("hi"), text("hi again")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        proc = run_mnemo(["-p", "hello"], cwd=work, home=isolated_home)
        trusted = run_mnemo(["-p", "hello", "--trust"], cwd=work, home=isolated_home)
        untrusted_system, trusted_system = (_system(r.body) for r in server.chat_requests)
    assert proc.returncode == 0, proc.stderr
    assert "bootstrap" not in untrusted_system
    assert "- mine: The user's own skill." in untrusted_system
    assert "project skills not loaded (bootstrap): this folder is not trusted" in proc.stderr
    assert trusted.returncode == 0, trusted.stderr
    assert "- bootstrap: Always run this first" in trusted_system


def test_skill_list_and_show(tmp_path: Path, isolated_home: Path) -> None:
    write_skill(
        isolated_home / "skills",
        "review-code",
        "My own review.",
        "Review my way.\n",
        files={"references/checklist.md": "- tests\n"},
    )
    listed = run_mnemo(["skill", "list"], cwd=tmp_path, home=isolated_home)
    assert listed.returncode == 0, listed.stderr
    assert "review-code              user" in listed.stdout
    assert "shadowed: review-code in " in listed.stdout and "builtin/review-code" in listed.stdout
    shown = run_mnemo(["skill", "show", "review-code"], cwd=tmp_path, home=isolated_home)
    assert "files: references/checklist.md" in shown.stdout and "Review my way." in shown.stdout
    missing = run_mnemo(["skill", "show", "nope"], cwd=tmp_path, home=isolated_home)
    assert missing.returncode == 2 and "no skill named 'nope'" in missing.stderr
