"""Verify for JS/TS with the real eslint and tsc (.ci/run installs both from npm)."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import call, calls, tool_call
from tests.agent.solver.harness import make_repo, rig

FILES = {
    "package.json": '{"name": "web", "version": "0.0.0", "private": true}\n',
    "eslint.config.mjs": 'export default [{ rules: { "no-unused-vars": "error" } }];\n',
    "tsconfig.json": '{"compilerOptions": {"strict": true}, "files": ["price.ts"]}\n',
    "util.js": "export function twice(x) {\n  return x * 2;\n}\n",
    "price.ts": "export function price(n: number): number {\n  return n;\n}\n",
}
OK = tool_call("submit_review", verdict="ok", problems=[])


async def test_eslint_and_tsc_failures_are_fixed_in_one_cycle(tmp_path: Path) -> None:
    work = make_repo(tmp_path, FILES)
    js = call("edit", path="util.js", old_string="  return x * 2;",
              new_string="  const unused = 1;\n  return x * 2;")  # fmt: skip
    ts = call("edit", path="price.ts", old_string="  return n;", new_string='  return "n";')
    js_fix = call("edit", path="util.js", old_string="  const unused = 1;\n", new_string="")
    ts_fix = call("edit", path="price.ts", old_string='  return "n";', new_string="  return n * 2;")
    r = rig(tmp_path, work, [calls(js, ts), calls(js_fix, ts_fix), OK])
    outcome = await r.run("double the price and tidy util.js")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 3
    fix_prompt = r.model.requests[1].messages[-1].text
    assert "eslint (new failures)" in fix_prompt and "no-unused-vars" in fix_prompt
    assert "tsc (new failures)" in fix_prompt and "TS2322" in fix_prompt
    assert "eslint passed · tsc passed · review ok" in outcome.summary
