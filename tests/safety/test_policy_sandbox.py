"""The policy with the sandbox behind it, through the real guard and real bubblewrap:
where a command runs, with or without the network, and what the audit log says
about every refusal."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest, ToolContext
from mnemocode.core.types import ToolCall
from mnemocode.safety.approvers import StaticApprover, headless_approver
from mnemocode.safety.setup import Safety, build_safety
from mnemocode.tools.base import FunctionToolset
from mnemocode.tools.builtin import builtin_tools
from tests.conftest import run_mnemo
from tests.e2e.hostile import MARKER, Listener


class Answers:
    """An approver that answers yes and remembers the questions."""

    def __init__(self) -> None:
        self.asked: list[ApprovalRequest] = []

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        return ApprovalDecision(True, "", "once", "user")


def make_safety(
    tmp_path: Path, mode: str, approver: object, **config: object
) -> tuple[Safety, ToolContext]:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    safety = build_safety(
        SafetyConfig(mode=mode, **config),  # type: ignore[arg-type]
        inner=FunctionToolset(builtin_tools()),
        approver=approver,  # type: ignore[arg-type]
        workdir=work,
        user_home=home,
        mnemo_home=home / ".mnemo",
        state_dir=home / ".mnemo" / "projects" / "p",
        env={},
    )
    ctx = ToolContext(
        cwd=work, sandbox=safety.sandbox, http_transport=safety.http_transport, session_id="s"
    )
    return safety, ctx


def shell(command: str, **extra: object) -> ToolCall:
    return ToolCall("c1", "shell_exec", {"command": command, **extra})


def send_to(port: int) -> str:
    return f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo {MARKER} >&3"


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.mark.parametrize("mode", ["ask", "auto"])
async def test_a_directory_outside_the_work_directory_is_refused(tmp_path: Path, mode: str) -> None:
    safety, ctx = make_safety(tmp_path, mode, StaticApprover(True))
    call = shell("echo pwned >> .bashrc", cwd=str(tmp_path / "home"))
    result = await safety.guard.call(call, ctx)
    assert result.is_error and "outside the work directory" in result.text
    assert not (tmp_path / "home" / ".bashrc").exists()


async def test_an_approved_command_gets_the_network_for_that_run_only(
    tmp_path: Path, listener: Listener
) -> None:
    answers = Answers()
    safety, ctx = make_safety(tmp_path, "ask", answers)
    result = await safety.guard.call(shell(send_to(listener.port)), ctx)
    assert answers.asked, "a network command asks"
    assert listener.wait_for(MARKER.encode()), result.text
    assert safety.audit.query(outcome="approved")[0].source == "user"


async def test_auto_mode_gives_the_network_only_to_listed_commands(
    tmp_path: Path, listener: Listener
) -> None:
    safety, ctx = make_safety(tmp_path, "auto", StaticApprover(False))
    refused = await safety.guard.call(shell(f"curl http://127.0.0.1:{listener.port}/"), ctx)
    assert refused.is_error and "network" in refused.text
    listed, ctx = make_safety(
        tmp_path, "auto", StaticApprover(False), auto_network_commands=["curl *"]
    )
    ran = await listed.guard.call(shell(f"curl -s http://127.0.0.1:{listener.port}/x"), ctx)
    assert not ran.is_error, ran.text
    assert listener.wait_for(b"GET /x")


async def test_auto_mode_without_a_sandbox_runs_only_read_only_commands(tmp_path: Path) -> None:
    safety, ctx = make_safety(tmp_path, "auto", StaticApprover(False), sandbox_auto="local")
    assert safety.sandbox.fallback_note
    ran = await safety.guard.call(shell("ls"), ctx)
    assert not ran.is_error
    refused = await safety.guard.call(shell("pytest -q"), ctx)
    assert refused.is_error and "without a sandbox" in refused.text


async def test_auto_mode_with_the_sandbox_runs_workdir_commands_confined(tmp_path: Path) -> None:
    safety, ctx = make_safety(tmp_path, "auto", StaticApprover(False))
    assert safety.policy.confined
    result = await safety.guard.call(
        shell("mkdir -p build && echo x > build/out.txt && ls /proc | grep -c '^[0-9]'"), ctx
    )
    assert not result.is_error, result.text
    assert (tmp_path / "work" / "build" / "out.txt").read_text() == "x\n"
    assert int(result.text.strip().splitlines()[-1]) < 10  # its own PID namespace


async def test_every_refusal_is_audited_as_a_denial_with_its_source(tmp_path: Path) -> None:
    safety, ctx = make_safety(
        tmp_path, "ask", headless_approver(False), web_allow_domains=["127.0.0.1"]
    )
    await safety.guard.call(shell("rm -rf /"), ctx)
    await safety.guard.call(shell("touch new.txt"), ctx)
    fetch = ToolCall("c2", "web_fetch", {"url": "http://127.0.0.1:9/"})
    ssrf = await safety.guard.call(fetch, dataclasses.replace(ctx, current_call_id="c2"))
    assert ssrf.is_error
    denied = safety.audit.query(outcome="denied")
    assert [(e.tool, e.source) for e in denied] == [
        ("shell_exec", "policy"),
        ("shell_exec", "headless"),
        ("web_fetch", "network"),
    ]
    assert safety.audit.query(outcome="approved") == []


def test_mnemo_audit_filters_by_outcome_and_source(tmp_path: Path, isolated_home: Path) -> None:
    from mnemocode.app import project_state_dir
    from mnemocode.safety.audit import AuditEntry, AuditLog

    work = tmp_path / "w"
    work.mkdir()
    log = AuditLog(project_state_dir(isolated_home, work.resolve()) / "audit.jsonl")
    for outcome, source, command in (
        ("approved", "policy", "ls"),
        ("denied", "headless", "touch x"),
        ("denied", "user", "rm y"),
    ):
        log.record(
            AuditEntry.now(
                session="s",
                turn=1,
                tool="shell_exec",
                arguments={"command": command},
                decision="ask",
                outcome=outcome,
                decided_by="t",
                source=source,
            )
        )
    denied = run_mnemo(["audit", "--outcome", "denied"], cwd=work, home=isolated_home)
    assert denied.returncode == 0, denied.stderr
    assert "touch x" in denied.stdout and "rm y" in denied.stdout and "ls" not in denied.stdout
    assert "[headless]" in denied.stdout
    by_user = run_mnemo(["audit", "--source", "user"], cwd=work, home=isolated_home)
    assert "rm y" in by_user.stdout and "touch x" not in by_user.stdout
    bad = run_mnemo(["audit", "--outcome", "maybe"], cwd=work, home=isolated_home)
    assert bad.returncode != 0 and "approved or denied" in bad.stderr


class SessionAnswers(Answers):
    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        return ApprovalDecision(True, "", "session", "user")


@pytest.fixture
def web_server() -> Iterator[str]:
    """A page, and a redirect from 127.0.0.1 to localhost (another host)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/hop"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{self.server.server_port}/page")
                self.end_headers()
                return
            body = b"<html><body><p>hello page</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


async def test_web_fetch_asks_once_per_domain_in_ask_mode(tmp_path: Path, web_server: str) -> None:
    answers = SessionAnswers()
    safety, ctx = make_safety(tmp_path, "ask", answers, allow_private_network=True)
    first = await safety.guard.call(ToolCall("w1", "web_fetch", {"url": f"{web_server}/a"}), ctx)
    assert "hello page" in first.text and len(answers.asked) == 1
    again = await safety.guard.call(ToolCall("w2", "web_fetch", {"url": f"{web_server}/b"}), ctx)
    assert "hello page" in again.text and len(answers.asked) == 1  # the domain, for the session
    # A redirect to another host the user was never asked about is refused.
    hop = await safety.guard.call(ToolCall("w3", "web_fetch", {"url": f"{web_server}/hop"}), ctx)
    assert hop.is_error and "not an allowed domain" in hop.text
    assert safety.audit.query(outcome="denied")[-1].source == "network"


def test_auto_mode_fetches_only_allow_listed_domains(tmp_path: Path) -> None:
    safety, ctx = make_safety(tmp_path, "auto", StaticApprover(False))
    decide = safety.policy.decide

    def fetch(url: str) -> str:
        return decide(ToolCall("w", "web_fetch", {"url": url}), None, ctx).action

    assert fetch("https://docs.python.org/3/library/os.html") == "allow"
    assert fetch("https://evil.example/?q=stolen") == "deny"
    assert fetch("https://docs.python.org.evil.example/") == "deny"
    assert fetch("https://docs.python.org\\@evil.example/") == "deny"
    custom, ctx = make_safety(
        tmp_path, "auto", StaticApprover(False), web_allow_domains=["*.internal.example"]
    )
    allowed = custom.policy.decide(
        ToolCall("w", "web_fetch", {"url": "https://wiki.internal.example/x"}), None, ctx
    )
    assert allowed.action == "allow"
    ask = make_safety(tmp_path, "ask", StaticApprover(False))[0]
    search = ToolCall("s", "web_search", {"query": "x"})
    assert ask.policy.decide(search, None, ctx).action == "ask"
