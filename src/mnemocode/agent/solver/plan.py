"""Step 1, plan: one model call answering a JSON schema (a forced native tool
call, validated by pydantic) — the files to read, the searches to run, the web
queries, a short approach. Skipped when the whole project fits the gather budget."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mnemocode.agent.codemap.types import Focus
from mnemocode.agent.solver.calls import Caller
from mnemocode.agent.solver.outcome import SolveFailed
from mnemocode.agent.solver.project import AnyMap, Project, mentioned_files, render_map
from mnemocode.core.types import Message, ToolSpec

PLAN_TOOL = "submit_plan"
PLAN_MAP_TOKENS = 4_000
MAX_LISTED_FILES = 400


class FileRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1)
    start_line: int | None = Field(default=None, ge=1)
    end_line: int | None = Field(default=None, ge=1)


class Plan(BaseModel):
    """What to gather before the solve call."""

    model_config = ConfigDict(extra="ignore")

    files: list[FileRequest] = Field(default_factory=list)
    searches: list[str] = Field(default_factory=list, description="ripgrep regexes")
    web_queries: list[str] = Field(default_factory=list)
    approach: str = ""


PLAN_SPEC = ToolSpec(
    PLAN_TOOL,
    "Say which files to read (optionally a line range), which ripgrep patterns to "
    "search the repository for, optional web queries, and the approach in a sentence.",
    Plan.model_json_schema(),
)


def whole_project(project: Project, budget: int) -> Plan | None:
    """The plan without a model call: every file, when they all fit ``budget``."""
    if project.tokens > budget:
        return None
    return Plan(files=[FileRequest(path=f) for f in project.files])


async def plan_prompt(task: str, project: Project, codemap: AnyMap | None, learnt: str) -> str:
    parts = [f"<task>\n{task}\n</task>"]
    if learnt:
        parts.append(learnt)
    code = ""
    if codemap is not None:
        focus = Focus(files=dict.fromkeys(mentioned_files(task, project.files), 1.0), text=task)
        code = await render_map(codemap, focus, PLAN_MAP_TOKENS)
    if code:
        parts.append(f"<code-map>\n{code}\n</code-map>")
    else:
        listed = project.files[:MAX_LISTED_FILES]
        more = len(project.files) - len(listed)
        tail = f"\n… and {more} more" if more > 0 else ""
        parts.append("<files>\n" + "\n".join(listed) + tail + "\n</files>")
    parts.append(
        f"Plan the change: call {PLAN_TOOL} with the files to read and the searches "
        "that find the code it touches. Ask only for what the change needs."
    )
    return "\n\n".join(parts)


async def make_plan(
    caller: Caller,
    history: list[Message],
    task: str,
    *,
    project: Project,
    codemap: AnyMap | None,
    learnt: str,
) -> Plan:
    prompt = await plan_prompt(task, project, codemap, learnt)
    response = await caller.call(
        [*history, Message.user(prompt)], [PLAN_SPEC], tool_choice=PLAN_TOOL
    )
    calls = [c for c in response.message.tool_calls if c.name == PLAN_TOOL]
    if not calls:
        raise SolveFailed("invalid_output", f"the plan call did not call {PLAN_TOOL}")
    try:
        return Plan.model_validate(calls[0].arguments)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SolveFailed(
            "invalid_output", f"the plan is invalid: {where}: {first['msg']}"
        ) from exc
