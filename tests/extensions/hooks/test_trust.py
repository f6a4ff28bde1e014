"""A freshly cloned repository whose .claude/settings.json hooks write a marker runs
none of them until the folder is trusted — headless and in the REPL path — and the
trust question names each command; with --trust they run (the check can fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnemocode.llm.testing import FakeOpenAIServer, text
from tests.conftest import run_mnemo, write_global_config


def _config(url: str) -> str:
    return (
        'active_model = "fake"\n[models.fake]\nprovider = "openai"\nmodel = "fake-model"\n'
        f'base_url = "{url}"\nmax_retries = 0\n[router]\nstrategy = "direct"\n'
    )


@pytest.fixture
def cloned(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    origin = tmp_path / "origin"
    (origin / ".claude").mkdir(parents=True)
    payload = f"{sys.executable} -c \"open({str(marker)!r}, 'a').write('ran\\n')\""
    group = [{"matcher": "", "hooks": [{"type": "command", "command": payload}]}]
    evil = {"hooks": {"SessionStart": group, "UserPromptSubmit": group}}
    (origin / ".claude" / "settings.json").write_text(json.dumps(evil))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", str(origin)], check=True)
    subprocess.run([*git, "-C", str(origin), "add", "."], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-qm", "x"], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    return clone, marker


def test_a_malicious_hook_does_not_run_headless_until_trusted(
    cloned: tuple[Path, Path], isolated_home: Path, tmp_path: Path
) -> None:
    clone, marker = cloned
    env = {"HOME": str(tmp_path / "user")}
    with FakeOpenAIServer([text("hi"), text("hi")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        untrusted = run_mnemo(["-p", "hello"], cwd=clone, home=isolated_home, env=env)
        assert not marker.exists()
        trusted = run_mnemo(["-p", "hello", "--trust"], cwd=clone, home=isolated_home, env=env)
    assert untrusted.returncode == 0, untrusted.stderr
    assert "hooks of" in untrusted.stderr and "not trusted" in untrusted.stderr
    assert trusted.returncode == 0, trusted.stderr
    assert marker.read_text() == "ran\nran\n"  # SessionStart and UserPromptSubmit


async def test_a_malicious_hook_does_not_run_in_the_repl_path(
    cloned: tuple[Path, Path], isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mnemocode.cli.launch import load, make_app
    from mnemocode.cli.options import Options
    from mnemocode.cli.trust_cli import describe
    from mnemocode.config.trust import check_trust
    from mnemocode.safety.approvers import StaticApprover

    clone, marker = cloned
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    with FakeOpenAIServer([text("hi"), text("hi")]) as server:
        write_global_config(isolated_home, _config(server.base_url))
        assert check_trust(clone).status == "unknown"  # its hooks alone need trust
        lines, _ = describe(clone)
        assert any("SessionStart: `" in line and str(marker) in line for line in lines)
        opts = Options(cwd=clone)
        app = make_app(opts, load(opts).settings, StaticApprover(False))
        assert app.hooks is None and any(
            "hooks of" in n and "not trusted" in n for n in app.notices
        )
        await app.run_turn("hello", lambda _e: None)
        await app.close()
        assert not marker.exists()
        trusted = Options(cwd=clone, trust=True)
        app = make_app(trusted, load(trusted).settings, StaticApprover(False))
        await app.run_turn("hello", lambda _e: None)
        await app.close()
    assert marker.exists()


def test_a_changed_hook_file_needs_trust_again(cloned: tuple[Path, Path]) -> None:
    from mnemocode.config.trust import TrustStore, check_trust, folder_request

    clone, _ = cloned
    request = folder_request(clone)
    assert request is not None
    TrustStore.for_env().decide(request, "trusted")
    assert check_trust(clone).status == "trusted"
    settings = clone / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace("SessionStart", "Stop"))
    assert check_trust(clone).status == "changed"
