"""Sessions across processes: `mnemo -p` stores its session; `--continue`,
`--resume ID` and `--project NAME` pick it up in a later process."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mnemocode.llm.testing import FakeOpenAIServer, text, tool_call
from tests.conftest import run_mnemo, write_global_config


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n'
    )


def _user_texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(m["content"]) for m in messages if m["role"] == "user"]


def test_continue_resumes_the_last_headless_session(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("The answer is 42."), text("You asked about the answer.")]) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        first = run_mnemo(
            ["-p", "what is the answer?", "--output-format", "json"],
            cwd=tmp_path,
            home=isolated_home,
        )
        assert first.returncode == 0, first.stderr
        second = run_mnemo(
            ["-p", "what did I ask before?", "--continue"], cwd=tmp_path, home=isolated_home
        )
        assert second.returncode == 0, second.stderr
        sent = srv.chat_requests[1].messages
    users = _user_texts(sent)
    assert any("what is the answer?" in u for u in users)
    assert any("The answer is 42." in str(m["content"]) for m in sent if m["role"] == "assistant")
    assert "what did I ask before?" in users[-1]


def test_resume_by_id_prefix_and_unknown_id(tmp_path: Path, isolated_home: Path) -> None:
    with FakeOpenAIServer([text("first"), text("second"), text("third")]) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        one = run_mnemo(
            ["-p", "alpha task", "--output-format", "json"], cwd=tmp_path, home=isolated_home
        )
        session = json.loads(one.stdout)["session_id"]
        two = run_mnemo(["-p", "beta task"], cwd=tmp_path, home=isolated_home)
        assert two.returncode == 0, two.stderr
        # Resume the first (not the last) session by a prefix of its id.
        three = run_mnemo(
            ["-p", "continue alpha", "--resume", session[:6]], cwd=tmp_path, home=isolated_home
        )
        assert three.returncode == 0, three.stderr
        sent = srv.chat_requests[2].messages
        missing = run_mnemo(["-p", "x", "--resume", "zzzzzz"], cwd=tmp_path, home=isolated_home)
        no_id = run_mnemo(["-p", "x", "--resume"], cwd=tmp_path, home=isolated_home)
    users = _user_texts(sent)
    assert any("alpha task" in u for u in users)
    assert not any("beta task" in u for u in users)
    assert missing.returncode == 1
    assert "no session" in missing.stderr and "zzzzzz" in missing.stderr
    assert no_id.returncode == 2 and "needs a session id" in no_id.stderr


def test_project_flag_works_in_the_projects_directory(tmp_path: Path, isolated_home: Path) -> None:
    repo = tmp_path / "repo"
    elsewhere = tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    (repo / "AGENTS.md").write_text("Always answer in haiku.\n", encoding="utf-8")
    with FakeOpenAIServer([text("one"), text("two")]) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        made = run_mnemo(["-p", "hello", "--project", "poems"], cwd=repo, home=isolated_home)
        assert made.returncode == 0, made.stderr
        again = run_mnemo(
            ["-p", "hello again", "--project", "poems", "--continue"],
            cwd=elsewhere,
            home=isolated_home,
        )
        assert again.returncode == 0, again.stderr
        system = str(srv.chat_requests[1].messages[0]["content"])
        users = _user_texts(srv.chat_requests[1].messages)
    # Started from another directory, the run still works in the project's directory
    # (its AGENTS.md) and continues its session.
    assert "Always answer in haiku." in system
    assert str(repo.resolve()) in system
    assert len(users) == 2
    assert "hello" in users[0] and "again" not in users[0]
    assert "hello again" in users[1]


def test_continue_and_resume_together_are_refused(tmp_path: Path, isolated_home: Path) -> None:
    proc = run_mnemo(["-p", "x", "--continue", "--resume", "abc"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 2
    assert "not both" in proc.stderr


_SUMMARY = {
    "title": "Chose the cache backend",
    "topics": ["caching"],
    "decisions": [{"what": "Use Redis for the cache", "why": "shared between workers"}],
}
_OPS = {
    "ops": [
        {
            "op": "add",
            "layer": "project",
            "key": "cache-backend",
            "kind": "decision",
            "value": "Redis",
            "rationale": "shared between workers",
        }
    ]
}
# A look at the files first: a session with a tool call is worth a summary (a bare
# question and answer is not summarised on its own).
_MEMORY_SCRIPT = [
    tool_call("glob", pattern="*.toml"),
    text("Redis it is."),
    text(json.dumps(_SUMMARY)),
    text(json.dumps(_OPS)),
]


def _saved_to_memory(tmp_path: Path, home: Path) -> bool:
    shown = run_mnemo(["memory", "show", "--json"], cwd=tmp_path, home=home)
    sessions = run_mnemo(["memory", "sessions"], cwd=tmp_path, home=home)
    return "cache-backend" in shown.stdout and "Chose the cache backend" in sessions.stdout


def test_after_headless_now_saves_the_session_before_exiting(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer(_MEMORY_SCRIPT) as srv:
        config = _config(srv.base_url) + '[memory]\nafter_headless = "now"\n'
        write_global_config(isolated_home, config)
        run = run_mnemo(["-p", "let's use redis for the cache"], cwd=tmp_path, home=isolated_home)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "Redis it is.\n"
        assert len(srv.chat_requests) == 4  # two for the answer, the summary, the extraction
    assert _saved_to_memory(tmp_path, isolated_home)
    again = run_mnemo(["memory", "process"], cwd=tmp_path, home=isolated_home)
    assert "no memory work is queued" in again.stdout


def test_after_headless_background_saves_the_session_after_exiting(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer(_MEMORY_SCRIPT) as srv:
        config = _config(srv.base_url) + '[memory]\nafter_headless = "background"\n'
        write_global_config(isolated_home, config)
        run = run_mnemo(["-p", "let's use redis for the cache"], cwd=tmp_path, home=isolated_home)
        assert run.returncode == 0, run.stderr
        log = isolated_home / "logs" / "memory-process.log"
        deadline = time.monotonic() + 60
        while "memory jobs done" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
            time.sleep(0.1)
        assert len(srv.chat_requests) == 4
    assert "2 of 2 memory jobs done" in log.read_text()
    assert _saved_to_memory(tmp_path, isolated_home)


def test_headless_session_is_saved_to_memory_by_memory_process(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer(_MEMORY_SCRIPT) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        run = run_mnemo(["-p", "let's use redis for the cache"], cwd=tmp_path, home=isolated_home)
        assert run.returncode == 0, run.stderr
        # The headless run made the answer's calls only: its memory work is queued.
        assert len(srv.chat_requests) == 2
        done = run_mnemo(["memory", "process"], cwd=tmp_path, home=isolated_home)
        again = run_mnemo(["memory", "process"], cwd=tmp_path, home=isolated_home)
    assert done.returncode == 0, done.stderr
    assert "2 of 2 memory jobs done" in done.stdout
    assert "no memory work is queued" in again.stdout
    shown = run_mnemo(["memory", "show", "--json"], cwd=tmp_path, home=isolated_home)
    assert "cache-backend" in shown.stdout and "shared between workers" in shown.stdout
    memory_md = (tmp_path / ".mnemo" / "MEMORY.md").read_text(encoding="utf-8")
    assert "**cache-backend**" in memory_md
    sessions = run_mnemo(["memory", "sessions"], cwd=tmp_path, home=isolated_home)
    assert "Chose the cache backend" in sessions.stdout


def test_memory_md_edits_reach_the_next_prompt(tmp_path: Path, isolated_home: Path) -> None:
    made = run_mnemo(
        ["memory", "set", "test-command", "pytest -x", "--kind", "convention"],
        cwd=tmp_path,
        home=isolated_home,
    )
    assert made.returncode == 0, made.stderr
    path = tmp_path / ".mnemo" / "MEMORY.md"
    edited = path.read_text(encoding="utf-8").replace("pytest -x", "pytest -x -q --ff")
    path.write_text(edited + "\n- Use tabs in Makefiles\n", encoding="utf-8")
    with FakeOpenAIServer([text("ok")]) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        proc = run_mnemo(["-p", "hi"], cwd=tmp_path, home=isolated_home)
        system = str(srv.chat_requests[0].messages[0]["content"])
    assert proc.returncode == 0, proc.stderr
    assert "MEMORY.md edits picked up: 2 added or changed" in proc.stderr
    assert "test-command: pytest -x -q --ff" in system
    assert "Use tabs in Makefiles" in system


def test_a_headless_question_is_not_summarised_on_its_own(
    tmp_path: Path, isolated_home: Path
) -> None:
    with FakeOpenAIServer([text("Redis it is."), text(json.dumps(_OPS))]) as srv:
        write_global_config(isolated_home, _config(srv.base_url))
        run = run_mnemo(["-p", "let's use redis for the cache"], cwd=tmp_path, home=isolated_home)
        assert run.returncode == 0, run.stderr
        done = run_mnemo(["memory", "process"], cwd=tmp_path, home=isolated_home)
        assert len(srv.chat_requests) == 2  # the answer and the extraction: no summary
    assert done.stdout.strip() == "1 of 1 memory jobs done", done.stdout + done.stderr
    shown = run_mnemo(["memory", "show", "--json"], cwd=tmp_path, home=isolated_home)
    assert "cache-backend" in shown.stdout


def test_memory_process_counts_the_jobs_a_run_adds(tmp_path: Path, isolated_home: Path) -> None:
    answers = [t for n in range(3) for t in (tool_call("glob", pattern="*"), text(f"done {n}"))]
    summary, ops = text(json.dumps(_SUMMARY)), text(json.dumps({"ops": []}))
    memory = [summary, ops] * 3 + [summary]  # then the consolidation the third summary asks for
    with FakeOpenAIServer([*answers, *memory]) as srv:
        config = _config(srv.base_url) + "[memory]\nconsolidate_after = 2\n"
        write_global_config(isolated_home, config)
        for n in range(3):
            run = run_mnemo(["-p", f"task {n}"], cwd=tmp_path, home=isolated_home)
            assert run.returncode == 0, run.stderr
        done = run_mnemo(["memory", "process"], cwd=tmp_path, home=isolated_home)
        assert len(srv.chat_requests) == 6 + 7
    assert done.stdout.strip() == "7 of 7 memory jobs done", done.stdout + done.stderr
