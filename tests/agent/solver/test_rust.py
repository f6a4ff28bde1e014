"""Verify for Rust with the real ``cargo check`` (rustup's cargo here; .ci/run installs
Debian's where there is none): a type error the solve made is fixed in one cycle."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import call, calls, tool_call
from tests.agent.solver.harness import make_repo, rig

FILES = {
    "Cargo.toml": '[package]\nname = "ledger"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/lib.rs": "pub fn total(items: &[i64]) -> i64 {\n    items.iter().sum()\n}\n",
    ".gitignore": "target/\n",
}
OK = tool_call("submit_review", verdict="ok", problems=[])


async def test_a_cargo_check_failure_is_fixed_in_one_cycle(tmp_path: Path) -> None:
    work = make_repo(tmp_path, FILES)
    doubled = '    let doubled: i64 = "2";\n    items.iter().sum::<i64>() * doubled'
    broken = call("edit", path="src/lib.rs", old_string="    items.iter().sum()",
                  new_string=doubled)  # fmt: skip
    fixed = call("edit", path="src/lib.rs", old_string='let doubled: i64 = "2";',
                 new_string="let doubled: i64 = 2;")  # fmt: skip
    r = rig(tmp_path, work, [calls(broken), calls(fixed), OK])
    outcome = await r.run("double the total in src/lib.rs")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 3
    fix_prompt = r.model.requests[1].messages[-1].text
    assert "cargo (new failures)" in fix_prompt and "E0308" in fix_prompt
    assert "cargo passed · review ok" in outcome.summary
    assert "doubled: i64 = 2;" in (work / "src/lib.rs").read_text()
