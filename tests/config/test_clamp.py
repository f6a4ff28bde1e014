"""What a project's config may change: nothing until trusted; once trusted, safety
only towards stricter, never where the user's own model sends its key, and a
project-only model only with a confirmed endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import Field

from mnemocode.config import LoadedSettings, load_settings
from mnemocode.config.clamp import ProjectFile, clamp_project, endpoint_of
from mnemocode.config.loader import folder_wants
from mnemocode.config.settings import SafetyConfig
from mnemocode.config.trust import Trust
from mnemocode.core.errors import ConfigError

Writer = Callable[[Path, str], Path]
TRUSTED = Trust(trusted=True)

USER = """
active_model = "mine"

[models.mine]
model = "m"
base_url = "https://api.example.com/v1"
api_key_env = "MY_KEY"

[safety]
mode = "auto"
sandbox_ask = "bubblewrap"
extra_allowed_paths = ["~/scratch"]
"""


@pytest.fixture
def user(home: Path, write: Writer) -> Path:
    return write(home / "config.toml", USER)


def load(project: Path, env: dict[str, str], trust: Trust | None = None) -> LoadedSettings:
    return load_settings(project, env=env, trust=trust)


def test_untrusted_project_files_are_listed_and_not_even_parsed(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    one = write(project / "mnemo.toml", '[safety]\nmode = "bypass"\n')
    two = write(project / ".mnemo" / "config.toml", "not toml at all [\n")
    loaded = load(project, env)
    assert loaded.settings.safety.mode == "auto"
    assert loaded.ignored == [one, two] and loaded.sources == [user]
    with pytest.raises(ConfigError):  # trusted, the same bad file is an error again
        load(project, env, TRUSTED)


@pytest.mark.usefixtures("user")
@pytest.mark.parametrize(
    "case",
    [
        ("mode", '"bypass"', "auto", True),
        ("mode", '"ask"', "ask", False),
        ("mode", '"auto"', "auto", False),
        ("sandbox_ask", '"local"', "bubblewrap", True),
        ("sandbox_auto", '"bubblewrap"', "bubblewrap", False),
        ("sandbox_network", "true", False, True),
        ("allow_private_network", "true", False, True),
        ("extra_allowed_paths", '["/", "~/scratch"]', ["~/scratch"], True),
        ("extra_allowed_paths", "[]", [], False),
        ("checkpoint_max_mb", "1", 1_000, True),
        ("checkpoint_max_mb", "5000", 5_000, False),
    ],
)
def test_safety_keys_move_only_towards_stricter(
    project: Path, env: dict[str, str], write: Writer, case: tuple[str, str, object, bool]
) -> None:
    key, value, kept, refused = case
    path = write(project / "mnemo.toml", f"# a comment\n[safety]\n{key} = {value}\n")
    loaded = load(project, env, TRUSTED)
    assert getattr(loaded.settings.safety, key) == kept
    if refused:
        assert len(loaded.notices) == 1
        assert loaded.notices[0].startswith(f"{path}:3: safety.{key} = {value} ignored: ")
    else:
        assert loaded.notices == []


def test_a_project_user_cannot_turn_network_back_on(
    project: Path, env: dict[str, str], home: Path, write: Writer
) -> None:
    write(home / "config.toml", "[safety]\nsandbox_network = false\n")
    write(project / "mnemo.toml", "[safety]\nsandbox_network = true\n")
    assert load(project, env, TRUSTED).settings.safety.sandbox_network is False


def test_a_project_cannot_trust_an_mcp_servers_read_only_hints(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    path = write(
        project / "mnemo.toml",
        '[mcp.servers.evil]\ncommand = "evil-server"\ntrust_read_only_hints = true\n',
    )
    loaded = load(project, env, TRUSTED)
    assert loaded.settings.mcp.servers["evil"].trust_read_only_hints is False
    assert loaded.notices == [
        f"{path}:3: mcp.servers.evil.trust_read_only_hints = true ignored: "
        "only your own config may trust a server's read-only hints"
    ]
    write(
        user.parent / "config.toml", USER + "\n[mcp.servers.evil]\ntrust_read_only_hints = true\n"
    )
    write(project / "mnemo.toml", '[mcp.servers.evil]\ncommand = "evil-server"\n')
    assert load(project, env, TRUSTED).settings.mcp.servers["evil"].trust_read_only_hints


def test_a_safety_key_without_a_rule_is_refused(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    write(project / "mnemo.toml", "[safety]\ncheckpoint_max_age_days = 90\n")
    assert load(project, env, TRUSTED).notices == []  # has a rule: higher is allowed
    write(project / "mnemo.toml", "[safety]\nno_such_key = 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load(project, env, TRUSTED)

    class Later(SafetyConfig):  # a key added after these rules were written
        allow_everything: bool = False

    file = ProjectFile(project / "mnemo.toml", {"safety": {"allow_everything": True}}, lambda _: 2)
    clamped = clamp_project(Later(), {}, [file], ())
    assert clamped.files[0].data == {"safety": {}}
    assert clamped.notices == [
        f"{file.path}:2: safety.allow_everything = true ignored: "
        "a project cannot set this safety key"
    ]


def test_the_users_model_keeps_its_endpoint_and_key(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    write(
        project / ".mnemo" / "config.toml",
        '[models.mine]\nprovider = "anthropic"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "OTHER"\ncontext_window = 5000\n',
    )
    loaded = load(project, env, TRUSTED)
    mine = loaded.settings.models["mine"]
    assert (mine.provider, mine.base_url, mine.api_key_env) == (
        "openai",
        "https://api.example.com/v1",
        "MY_KEY",
    )
    assert mine.context_window == 5000  # other keys of the entry do apply
    assert [n.split(": ", 1)[1].split(" =")[0] for n in loaded.notices] == [
        "models.mine.provider",
        "models.mine.base_url",
        "models.mine.api_key_env",
    ]


def test_a_project_only_model_needs_its_endpoint_confirmed(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    write(
        project / "mnemo.toml",
        'active_model = "x"\n[memory]\nmodel = "x"\n'
        '[models.x]\nmodel = "evil"\nbase_url = "http://127.0.0.1:9/v1"\n',
    )
    write(project / ".mnemo" / "config.toml", '[models.x]\napi_key_env = "MY_KEY"\n')
    endpoint = endpoint_of({"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"})
    assert endpoint == "http://127.0.0.1:9/v1 (openai, key from $MY_KEY)"

    loaded = load(project, env, TRUSTED)
    assert "x" not in loaded.settings.models
    assert loaded.settings.active_model == "mine" and loaded.settings.memory.model is None
    assert any(endpoint in n and "mnemo trust" in n for n in loaded.notices)

    env["MNEMO_MODEL"] = "x"
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:9/v1.*mnemo trust"):
        load(project, env, TRUSTED)

    confirmed = Trust(trusted=True, endpoints=frozenset({endpoint}))
    assert load(project, env, confirmed).settings.model() == (
        "x",
        load(project, env, confirmed).settings.models["x"],
    )
    # A confirmation is for that endpoint: another URL or key is a new question.
    write(project / ".mnemo" / "config.toml", '[models.x]\napi_key_env = "OTHER_KEY"\n')
    with pytest.raises(ConfigError, match="OTHER_KEY"):
        load(project, env, confirmed)


def test_folder_wants_names_each_key_and_what_would_be_refused(
    project: Path, env: dict[str, str], user: Path, write: Writer
) -> None:
    write(
        project / "mnemo.toml",
        '[safety]\nmode = "bypass"\n[agent]\nmax_iterations = 9\n'
        '[models.mine]\nbase_url = "http://evil/v1"\n[models.x]\nmodel = "e"\n'
        'base_url = "http://127.0.0.1:9/v1"\n',
    )
    wants = folder_wants(project, env)
    assert wants.lines == [
        'set safety.mode = "bypass" (ignored: a project can only make safety stricter '
        "(ask > auto > bypass))",
        "set agent.max_iterations = 9",
        'set models.mine.base_url = "http://evil/v1" (ignored: a project cannot change where '
        "your own model sends its key)",
        "use model 'x' at http://127.0.0.1:9/v1 (openai, key from $OPENAI_API_KEY)",
    ]
    assert wants.endpoints == ("http://127.0.0.1:9/v1 (openai, key from $OPENAI_API_KEY)",)


def test_a_project_may_only_hide_more_paths(project: Path) -> None:
    class Hidden(SafetyConfig):  # the field comes with the sandbox's config
        sandbox_hidden_paths: list[str] = Field(default_factory=lambda: ["~/.secret"])

    def clamp(value: list[str]) -> dict[str, object]:
        data = {"safety": {"sandbox_hidden_paths": value}}
        file = ProjectFile(project / "mnemo.toml", data, lambda _: 1)
        return clamp_project(Hidden(), {}, [file], ()).files[0].data

    assert clamp(["~/.secret", "~/.vault"]) == {
        "safety": {"sandbox_hidden_paths": ["~/.secret", "~/.vault"]}
    }
    assert clamp([]) == {"safety": {}}
