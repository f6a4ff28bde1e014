"""Verify for Go with the real ``go vet`` and ``go test`` (.ci/run installs Debian's
golang-go): a failing test the solve caused is fixed in one cycle."""

from __future__ import annotations

from pathlib import Path

from mnemocode.llm.testing import call, calls, tool_call
from tests.agent.solver.harness import make_repo, rig

FILES = {
    "go.mod": "module example.com/ledger\n\ngo 1.19\n",
    "ledger/total.go": (
        "package ledger\n\nfunc Total(items []int) int {\n\tsum := 0\n"
        "\tfor _, v := range items {\n\t\tsum += v\n\t}\n\treturn sum\n}\n"
    ),
    "ledger/total_test.go": (
        'package ledger\n\nimport "testing"\n\nfunc TestTotal(t *testing.T) {\n'
        "\tif got := Total([]int{1, 2}); got != 6 {\n"
        '\t\tt.Fatalf("Total = %d, want 6", got)\n\t}\n}\n'
    ),
}
OK = tool_call("submit_review", verdict="ok", problems=[])


async def test_a_go_test_failure_is_fixed_in_one_cycle(tmp_path: Path) -> None:
    files = dict(FILES)
    files["ledger/total_test.go"] = files["ledger/total_test.go"].replace("!= 6", "!= 3")
    work = make_repo(tmp_path, files)
    # the solve doubles the total without changing the test: go test fails
    wrong = call("edit", path="ledger/total.go", old_string="\treturn sum\n",
                 new_string="\treturn sum * 2\n")  # fmt: skip
    test = call("edit", path="ledger/total_test.go", old_string="!= 3", new_string="!= 6")
    r = rig(tmp_path, work, [calls(wrong), calls(test), OK])
    outcome = await r.run("Total must return twice the sum; update its test")
    assert outcome.ok, outcome.reason
    assert outcome.model_calls == 3
    fix_prompt = r.model.requests[1].messages[-1].text
    assert "go test (new failures)" in fix_prompt and "--- FAIL: TestTotal" in fix_prompt
    assert "go vet passed · go test passed · review ok" in outcome.summary
