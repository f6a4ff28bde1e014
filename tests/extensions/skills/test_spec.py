"""Validation to the agentskills.io spec: the spec's own examples pass, Claude
Code's extra fields are accepted, and each broken folder is named with file:line —
through the function and through `mnemo skill validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnemocode.extensions.skills.spec import load_skill
from tests.conftest import run_mnemo
from tests.extensions.skills.support import write_skill

# The spec's example (agentskills.io/specification), every optional field set.
SPEC_EXAMPLE = """---
name: pdf-processing
description: Extract text and tables from PDF files, fill PDF forms, and merge
  multiple PDFs. Use when working with PDF documents or when the user mentions PDFs,
  forms, or document extraction.
license: Apache-2.0
compatibility: Requires python3 and the pypdf package
metadata:
  author: example-org
  version: "1.0"
allowed-tools: Bash(git:*) Bash(jq:*) Read
---
# PDF processing
Use scripts/extract.py to pull the text out.
"""

CLAUDE_CODE = """---
name: deploy
description: Deploy the application to production
disable-model-invocation: true
argument-hint: "[environment]"
model: claude-opus-4
context: fork
allowed-tools: Read, Grep, Bash(npm run deploy:*)
---
Deploy $ARGUMENTS.
"""


def _write(tmp_path: Path, folder: str, text: str) -> Path:
    path = tmp_path / folder / "SKILL.md"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_spec_example_is_valid_with_every_field(tmp_path: Path) -> None:
    skill, problems = load_skill(_write(tmp_path, "pdf-processing", SPEC_EXAMPLE))
    assert problems == [] and skill is not None
    assert skill.description.startswith("Extract text and tables from PDF files")
    assert skill.license == "Apache-2.0"
    assert skill.metadata == {"author": "example-org", "version": "1.0"}
    assert skill.allowed_tools == ("Bash(git:*)", "Bash(jq:*)", "Read")
    assert skill.model_invocable and skill.user_invocable
    assert skill.body().startswith("# PDF processing")


def test_claude_code_fields_are_accepted_and_honoured(tmp_path: Path) -> None:
    skill, problems = load_skill(_write(tmp_path, "deploy", CLAUDE_CODE))
    assert problems == [] and skill is not None
    assert not skill.model_invocable  # only /deploy starts it
    assert skill.argument_hint == "[environment]"
    assert skill.allowed_tools == ("Read", "Grep", "Bash(npm run deploy:*)")


BROKEN = [
    ("Bad-Name", "---\nname: Bad-Name\ndescription: x\n---\n", 2, "lowercase letters"),
    ("double--dash", "---\nname: double--dash\ndescription: x\n---\n", 2, "single hyphens"),
    ("-lead", "---\nname: -lead\ndescription: x\n---\n", 2, "not starting or ending"),
    ("folder", "---\ndescription: x\nname: other\n---\n", 3, "must equal the folder's name"),
    ("no-desc", "---\nname: no-desc\n---\nbody\n", 2, "`description` is required"),
    ("empty-desc", "---\nname: empty-desc\ndescription: ''\n---\n", 3, "is required"),
    ("a" * 65, "---\nname: " + "a" * 65 + "\ndescription: x\n---\n", 2, "65 characters"),
    ("long-desc", "---\nname: long-desc\ndescription: " + "y" * 1025 + "\n---\n", 3, "1025"),
    (
        "long-compat",
        "---\nname: long-compat\ndescription: x\ncompatibility: " + "c" * 501 + "\n---\n",
        4,
        "`compatibility` is 501",
    ),
    ("meta", "---\nname: meta\ndescription: x\nmetadata:\n  n: [1]\n---\n", 4, "string"),
    ("bad-yaml", "---\nname: bad-yaml\ndescription: a: b: c\n---\n", 3, "invalid YAML"),
    ("unclosed", "---\nname: unclosed\ndescription: x\n", 1, "not closed"),
    ("no-front", "# just markdown\n", 1, "no YAML frontmatter"),
    ("a-list", "---\n- name\n---\n", 2, "must be a mapping"),
]


@pytest.mark.parametrize(("folder", "text", "line", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_skill_names_file_and_line(
    tmp_path: Path, folder: str, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, folder, text)
    skill, problems = load_skill(path)
    assert skill is None
    assert any(p.line == line and message in p.message for p in problems), problems
    assert str(problems[0]).startswith(f"{path}:{problems[0].line}: ")


def test_mnemo_skill_validate_prints_file_line_and_exits_1(
    tmp_path: Path, isolated_home: Path
) -> None:
    write_skill(tmp_path / "skills", "good")
    _write(tmp_path / "skills", "Wrong", "---\nname: Wrong\ndescription: x\n---\n")
    _write(tmp_path / "skills", "nodesc", "---\nname: nodesc\n---\n")
    proc = run_mnemo(["skill", "validate", "skills"], cwd=tmp_path, home=isolated_home)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "skills/Wrong/SKILL.md:2: `name` 'Wrong' must be lowercase" in lines[0]
    assert any(
        line.startswith("skills/nodesc/SKILL.md:2: `description` is required") for line in lines
    )
    assert "skills/good/SKILL.md: ok (good)" in lines
    ok = run_mnemo(["skill", "validate", "skills/good"], cwd=tmp_path, home=isolated_home)
    assert ok.returncode == 0 and "ok (good)" in ok.stdout
