"""``/hooks`` in the real REPL lists each hook with its event, matcher, timeout and
where it came from; a UserPromptSubmit hook's context reaches the model there too."""

from __future__ import annotations

from pathlib import Path

from mnemocode.config.settings import HookConfig, ModelConfig, RouterConfig, Settings
from mnemocode.llm.testing import text
from tests.cli.repl_harness import repl_session
from tests.extensions.hooks.support import script


async def test_hooks_lists_what_runs_and_where_it_came_from(tmp_path: Path) -> None:
    command = script(tmp_path / "hooks", "ctx", "print('context from a hook')\n")
    config = Settings(
        models={"t": ModelConfig(model="scripted")},
        active_model="t",
        router=RouterConfig(strategy="direct"),
        hooks={  # type: ignore[dict-item]
            "PreToolUse": [HookConfig(matcher="Bash", command="echo pre", timeout=5)],
            "UserPromptSubmit": [HookConfig(command=command)],
        },
    )
    async with repl_session(tmp_path, [text("hi")], config=config) as s:
        s.send("/hooks\n")
        await s.wait_for("UserPromptSubmit: `")
        assert "PreToolUse [Bash]: `echo pre` (timeout 5s; mnemo config)" in s.output
        s.send("hello\n")
        await s.wait_for("hi")
        s.send("/quit\n")
        assert await s.finish() == 0
    [request] = s.model.requests
    user = [m for m in request.messages if m.role == "user"][-1]
    assert "context from a hook" in user.text
