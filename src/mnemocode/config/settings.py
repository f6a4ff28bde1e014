"""Settings and the config model of each component. Each validates itself;
layers are merged in ``config.loader`` before validation.

Validating with ``context={"partial": True}`` skips the checks that span layers
(``active_model`` naming a ``[models.*]`` entry): the loader validates each layer
as it is added, and the entry may come from a later layer.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    """One named model entry: ``[models.<alias>]``."""

    provider: Literal["openai", "anthropic"] = "openai"
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int = Field(default=128_000, gt=0)
    max_output_tokens: int = Field(default=8_192, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    vision: bool = False
    extra_body: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=10)
    # Prices in USD per million tokens; override the built-in table for this entry.
    input_price: float | None = Field(default=None, ge=0)
    output_price: float | None = Field(default=None, ge=0)

    @field_validator("api_key_env")
    @classmethod
    def _names_a_variable(cls, value: str | None) -> str | None:
        # The key itself never goes into a config file, only the variable holding it.
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "must be the name of an environment variable (e.g. OPENAI_API_KEY), "
                "not the key itself"
            )
        return value


class AgentConfig(_Strict):
    max_iterations: int = Field(default=50, gt=0)
    # A single tool result longer than this is cut, with a note telling the model how
    # to read the rest.
    tool_output_max_chars: int = Field(default=30_000, gt=500)
    # Share of the context window a request may use before old tool outputs are cut.
    context_budget: float = Field(default=0.85, gt=0.1, le=1.0)
    system_prompt: str | None = None


class ToolsConfig(_Strict):
    shell_max_output_bytes: int = Field(default=30_000, gt=1_000)
    shell_timeout_s: float = Field(default=120.0, gt=0)
    shell_background_after_s: float | None = Field(default=None, gt=0)
    web_search_backend: str = "duckduckgo"
    web_fetch_max_bytes: int = Field(default=2_000_000, gt=0)
    web_fetch_timeout_s: float = Field(default=20.0, gt=0)
    file_read_max_lines: int = Field(default=2_000, gt=0)
    attach_max_chars: int = Field(default=100_000, gt=0)
    # Offer Codex's apply_patch tool: "auto" to models whose names look trained
    # on it (gpt-, o1/o3/o4, codex), true to every model, false to none.
    apply_patch: Literal["auto"] | bool = "auto"


SandboxKind = Literal["local", "bubblewrap"]


class SafetyConfig(_Strict):
    # "bypass" is accepted for one run (--mode bypass); mnemo never writes it to a file.
    mode: Literal["ask", "auto", "bypass"] = "ask"
    # Folders besides the work directory the agent may write to (~ expanded).
    extra_allowed_paths: list[str] = Field(default_factory=list)
    # Which sandbox runs shell commands in each mode. Without `bwrap` (or with
    # "local") nothing confines them: ask mode then asks for every command that is
    # not read-only, and auto mode refuses those.
    sandbox_ask: SandboxKind = "bubblewrap"
    sandbox_auto: SandboxKind = "bubblewrap"
    # Network inside the sandbox for every command; off: only for commands the user
    # approves, and in auto mode for `auto_network_commands`.
    sandbox_network: bool = False
    # One long-lived bwrap per mount plan and network setting starts the commands
    # (a fork instead of a new bwrap each time); false: a bwrap per command.
    sandbox_warm: bool = True
    # Commands auto mode runs with the network (exact words; a trailing " *" takes
    # any further arguments), e.g. ["npm install", "pip install -r requirements.txt"].
    auto_network_commands: list[str] = Field(default_factory=list)
    # Home-relative paths hidden inside the sandbox besides the built-in credential
    # stores (~/.ssh, ~/.aws, ~/.netrc, …).
    sandbox_hidden_paths: list[str] = Field(default_factory=list)
    # Environment variables that reach commands although their names look secret
    # (API keys and tokens are removed from every command's environment).
    env_passthrough: list[str] = Field(default_factory=list)
    # web_fetch may reach loopback and private addresses (local docs servers).
    allow_private_network: bool = False
    # Hosts web_fetch reaches in auto mode (and in ask mode without a question):
    # "docs.python.org", "*.example.com" (subdomains), "*" (all). Unset: a built-in
    # list of documentation sites (mnemocode.safety.domains); a list replaces it.
    web_allow_domains: list[str] | None = None
    checkpoint_max_age_days: float = Field(default=30.0, gt=0)
    checkpoint_max_mb: int = Field(default=1_000, gt=0)


class MemoryConfig(_Strict):
    enabled: bool = True
    # Compact the conversation when a request passes this share of the context window.
    compact_at: float = Field(default=0.5, gt=0.05, lt=1.0)
    # User turns kept verbatim by a compaction.
    keep_recent_turns: int = Field(default=3, ge=1)
    # Token cap of the recent-session summaries injected every turn.
    recent_tokens: int = Field(default=4_000, ge=0)
    # Token cap of core + project memory in the system prefix.
    prefix_tokens: int = Field(default=6_000, ge=0)
    # Extract memories when a session ends, and every N turns of a long session.
    extract: bool = True
    extract_every_turns: int = Field(default=25, ge=0)
    # A session of at most this many turns with no tool call gets no summary of its
    # own (its extraction still runs); 0 summarises every session.
    trivial_turns: int = Field(default=2, ge=0)
    # The model alias that summarises and extracts; the active model when unset.
    model: str | None = None
    # Level-0 summaries beyond this many are consolidated into coarser ones.
    consolidate_after: int = Field(default=12, ge=2)
    recency_weight: float = Field(default=0.2, ge=0)
    recency_half_life_days: float = Field(default=30.0, gt=0)
    # Fuse BM25 with embeddings (needs `pip install 'mnemocode[embeddings]'`).
    embeddings: bool = False
    mirror: bool = True  # keep .mnemo/MEMORY.md in step with project memory
    # Commit MEMORY.md with the project (teams sharing memory); by default mnemo's own
    # .mnemo/.gitignore keeps it out of git status.
    commit_mirror: bool = False
    # A headless run's summary and extraction: "queue" them for the next interactive
    # start or `mnemo memory process`; run them "now", before the process exits; or
    # hand them to a detached `mnemo memory process` in the "background".
    after_headless: Literal["queue", "now", "background"] = "queue"


class RuntimeConfig(_Strict):
    """Where agents share events, state and tasks: ``memory`` (one process),
    ``sqlite`` (one machine, several terminals), ``redis`` or ``nats`` (a team)."""

    backend: Literal["memory", "sqlite", "redis", "nats"] = "sqlite"
    # redis://host:6379/0 or nats://host:4222; unused by memory and sqlite.
    url: str | None = None
    # The SQLite file; default <mnemo home>/runtime.db.
    path: str | None = None
    # Prefix of every stream, key and queue, so several teams can share a server.
    namespace: str = Field(default="mnemo", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    # Events kept for replay (older ones are dropped).
    max_events: int = Field(default=100_000, gt=0)
    # Failures before a task is dead-lettered.
    max_attempts: int = Field(default=5, gt=0)


StrategyName = Literal["auto", "direct", "context"]


class CodeMapConfig(_Strict):
    """The ranked code map (``agent/codemap``)."""

    # Token budget of a map the model asks for (code_map tool, /map, mnemo map); 0 = off.
    tokens: int = Field(default=2_048, ge=0)
    # A small map in the direct loop's first request, only when the repository has
    # more than ``first_request_min_files`` files (too many to list); 0 = never.
    first_request_tokens: int = Field(default=1_024, ge=0)
    first_request_min_files: int = Field(default=40, ge=0)
    # How long the first request may wait for the map's first build (a cold build of
    # a large repository); past it the session goes on without the first-request map.
    first_request_wait_s: float = Field(default=2.0, ge=0)
    # Files larger than this are left out of the map (bytes).
    max_file_bytes: int = Field(default=1_000_000, gt=0)


class SolverConfig(_Strict):
    """The context-first solver (``agent/solver``): plan → gather → solve → verify →
    fix → review → polish."""

    # Tokens of code the gather step may put in the solve call (in total / per file).
    gather_tokens: int = Field(default=24_000, gt=0)
    gather_file_tokens: int = Field(default=8_000, gt=0)
    fix_cycles: int = Field(default=2, ge=0, le=10)
    review: bool = True
    verify_timeout_s: float = Field(default=120.0, gt=0)


class RouterConfig(_Strict):
    """The escalation router (``agent/router.py``)."""

    strategy: StrategyName = "auto"
    # What happens to a failed rung's edits before the next rung starts.
    on_failure: Literal["rollback", "keep"] = "rollback"
    # ``auto`` keeps models with a smaller window on the tool loop: the solver's
    # one request (map, gathered files, task) would not fit.
    context_min_window: int = Field(default=16_000, ge=0)


class McpServerConfig(_Strict):
    """One ``[mcp.servers.<name>]``: a server of its own (``command`` or ``url``), or
    settings for the server of that name in an ``.mcp.json`` (neither set)."""

    type: Literal["stdio", "http", "sse"] | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    # Let the server's ``readOnlyHint`` annotations decide: a tool it marks read-only
    # runs without a question (in ask and auto mode). Off: every call asks.
    trust_read_only_hints: bool = False
    # Per server; unset: the ``[mcp]`` values.
    startup: Literal["eager", "lazy"] | None = None
    start_timeout_s: float | None = Field(default=None, gt=0)
    call_timeout_s: float | None = Field(default=None, gt=0)


class McpConfig(_Strict):
    """The MCP servers mnemo uses (``extensions/mcp``); ``.mcp.json`` files add more."""

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    # eager: every server starts (in parallel) when the session starts; lazy: a server
    # whose tool list is cached from an earlier session starts at its first call.
    startup: Literal["eager", "lazy"] = "eager"
    start_timeout_s: float = Field(default=30.0, gt=0)
    call_timeout_s: float = Field(default=300.0, gt=0)
    # A tool description longer than this is cut (some servers ship pages of text).
    max_description_chars: int = Field(default=2_000, ge=100)
    # Read the project's ``.mcp.json`` and ``~/.mnemo/mcp.json``.
    read_mcp_json: bool = True


HookEvent = Literal[
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "Stop",
    "SubagentStop",
    "SessionStart",
    "SessionEnd",
    "PreCompact",
    "Notification",
]


class HookConfig(_Strict):
    """One ``[[hooks.<Event>]]``: a command run on that event (``extensions/hooks``)."""

    command: str = Field(min_length=1)
    # Claude Code's matcher: a tool name, ``A|B``, a regex; empty or ``*``: every tool.
    matcher: str = ""
    timeout: float = Field(default=60.0, gt=0)


class SkillsConfig(_Strict):
    """Skills (``SKILL.md`` folders, ``extensions/skills``)."""

    enabled: bool = True
    # The cap on the skills' names and descriptions in the system prompt.
    prompt_tokens: int = Field(default=1_500, ge=0)


class AgentsConfig(_Strict):
    """Agent definitions and the ``task`` tool (``extensions/agents``)."""

    enabled: bool = True


class Settings(_Strict):
    active_model: str | None = None
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    codemap: CodeMapConfig = Field(default_factory=CodeMapConfig)
    solver: SolverConfig = Field(default_factory=SolverConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    skills: SkillsConfig = Field(default_factory=SkillsConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    hooks: dict[HookEvent, list[HookConfig]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _active_model_exists(self, info: ValidationInfo) -> Settings:
        if info.context and info.context.get("partial"):
            return self
        if self.active_model is not None and self.active_model not in self.models:
            known = ", ".join(sorted(self.models)) or "none defined"
            raise ValueError(
                f"active_model {self.active_model!r} is not a [models.*] entry ({known})"
            )
        return self

    @property
    def is_configured(self) -> bool:
        return bool(self.models)

    def model(self, alias: str | None = None) -> tuple[str, ModelConfig]:
        """The named model, or the active one (the only one if there is just one)."""
        name = alias or self.active_model or (next(iter(self.models)) if self.models else None)
        if name is None or name not in self.models:
            from mnemocode.core.errors import ConfigError

            known = ", ".join(sorted(self.models)) or "none — run `mnemo init`"
            raise ConfigError(f"no model named {name!r} (known: {known})", key="active_model")
        return name, self.models[name]
