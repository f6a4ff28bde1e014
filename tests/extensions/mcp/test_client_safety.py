"""Every MCP call passes GuardedToolset: asked in ask mode, refused in auto mode,
allowed by a per-tool or per-server rule, readOnlyHint trusted only when the user
says so, audited with its arguments (secrets redacted); a huge result is capped."""

from __future__ import annotations

import json
from pathlib import Path

from mnemocode.core.protocols import ApprovalDecision, ApprovalRequest
from mnemocode.llm.testing import text, tool_call
from mnemocode.safety.approvers import StaticApprover
from mnemocode.safety.rules import Rule
from tests.extensions.mcp.client_support import session, tool_messages, toy_config


class Always:
    """Answers "always" (``wide``: for the whole server), recording the questions."""

    def __init__(self, *, wide: bool) -> None:
        self.wide, self.asked = wide, list[ApprovalRequest]()

    async def approve(self, request: ApprovalRequest) -> ApprovalDecision:
        self.asked.append(request)
        return ApprovalDecision(True, "", "always", "user", wide=self.wide)


async def _turn(app, prompt: str = "go") -> None:  # type: ignore[no-untyped-def]
    try:
        await app.run_turn(prompt, lambda _e: None)
    finally:
        await app.close()


async def test_ask_mode_asks_and_a_no_reaches_the_model_with_the_reason(
    tmp_path: Path, isolated_home: Path
) -> None:
    target = tmp_path / "made.txt"
    approver = StaticApprover(False, "not today")
    app, model = session(
        tmp_path,
        isolated_home,
        [tool_call("mcp__toy__touch", path=str(target)), text("ok")],
        {"toy": toy_config()},
        mode="ask",
        approver=approver,
    )
    await _turn(app)
    assert not target.exists()  # the server never got the call
    [asked] = approver.asked
    assert asked.tool == "mcp__toy__touch" and "MCP server 'toy'" in asked.reason
    [told] = tool_messages(model, 1)
    assert "Denied by headless policy: not today" in told


async def test_auto_mode_refuses_unless_a_rule_allows(tmp_path: Path, isolated_home: Path) -> None:
    script = [
        tool_call("mcp__toy__echo", text="a"),
        text("refused"),
        tool_call("mcp__toy__echo", text="b"),
        text("ran"),
    ]
    approver = StaticApprover(True)
    app, model = session(
        tmp_path, isolated_home, script, {"toy": toy_config()}, mode="auto", approver=approver
    )
    try:
        await app.run_turn("one", lambda _e: None)
        assert "auto mode does not ask" in tool_messages(model, 1)[0]
        app.safety.rules.add(Rule("mcp__toy__*", "project"))
        await app.run_turn("two", lambda _e: None)
    finally:
        await app.close()
    assert tool_messages(model, 3)[-1] == "echo: b"
    assert approver.asked == []


async def test_always_saves_a_tool_rule_or_a_server_rule(
    tmp_path: Path, isolated_home: Path
) -> None:
    for wide, saved in ((False, "mcp__toy__echo"), (True, "mcp__toy__*")):
        approver = Always(wide=wide)
        app, _model = session(
            tmp_path, isolated_home, [tool_call("mcp__toy__echo", text="x"), text("ok")],
            {"toy": toy_config()}, mode="ask", approver=approver,
        )  # fmt: skip
        await _turn(app)
        assert len(approver.asked) == 1
        rules = [r.tool for r in app.safety.rules.rules()]
        assert saved in rules
        # the server rule covers its other tools too; the tool rule only that tool
        assert (app.safety.rules.match_tool("mcp__toy__peek") is not None) == wide
        for index in range(len(rules), 0, -1):
            app.safety.rules.remove(index)


async def test_read_only_hints_are_shown_and_trusted_only_when_configured(
    tmp_path: Path, isolated_home: Path
) -> None:
    script = [tool_call("mcp__toy__peek", key="k"), text("ok")]
    asking = StaticApprover(True)
    app, _m = session(
        tmp_path, isolated_home, script, {"toy": toy_config()}, mode="ask", approver=asking
    )
    await _turn(app)
    [asked] = asking.asked
    assert "marks it read-only" in asked.reason and "trust_read_only_hints" in asked.reason
    trusting = StaticApprover(True)
    config = toy_config(trust_read_only_hints=True)
    app, model = session(
        tmp_path, isolated_home, list(script), {"toy": config}, mode="auto", approver=trusting
    )
    await _turn(app)
    assert trusting.asked == [] and tool_messages(model, 1) == ["value of k"]


async def test_calls_are_audited_with_arguments_and_secrets_redacted(
    tmp_path: Path, isolated_home: Path
) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    script = [tool_call("mcp__toy__echo", text=f"key {secret}"), text("ok")]
    app, model = session(tmp_path, isolated_home, script, {"toy": toy_config()}, mode="bypass")
    await _turn(app)
    log = app.safety.audit.path.read_text()
    entry = json.loads(log.strip().splitlines()[-1])
    assert entry["tool"] == "mcp__toy__echo" and "text" in entry["arguments"]
    assert secret not in log and secret not in tool_messages(model, 1)[0]


async def test_a_huge_result_is_capped_like_built_in_tools(
    tmp_path: Path, isolated_home: Path
) -> None:
    script = [tool_call("mcp__toy__huge", chars=2_000_000), text("ok")]
    app, model = session(tmp_path, isolated_home, script, {"toy": toy_config()}, mode="bypass")
    await _turn(app)
    [seen] = tool_messages(model, 1)
    assert len(seen) < app.settings.agent.tool_output_max_chars + 2_000
    assert "x" * 1000 in seen
