from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mnemocode.config import LoadedSettings, load_settings
from mnemocode.config.clamp import endpoint_of
from mnemocode.config.trust import Trust
from mnemocode.core.errors import ConfigError

Writer = Callable[[Path, str], Path]


GLOBAL = """
    active_model = "fast"

    [models.fast]
    model = "global-model"
    context_window = 1000

    [agent]
    max_iterations = 10
    tool_output_max_chars = 1000
    """


def load(cwd: Path, env: dict[str, str], **kwargs: Any) -> LoadedSettings:
    """A trusted folder (the layering tests); tests/config/test_clamp.py covers trust."""
    kwargs.setdefault("trust", Trust(trusted=True))
    return load_settings(cwd, env=env, **kwargs)


# -- layering -----------------------------------------------------------------------


def test_defaults_when_nothing_is_configured(project: Path, env: dict[str, str]) -> None:
    loaded = load(project, env)
    assert loaded.sources == []
    assert loaded.settings.agent.max_iterations == 50
    assert loaded.settings.models == {}
    assert loaded.global_path == Path(env["MNEMO_HOME"]) / "config.toml"
    assert loaded.project_root == project


def test_each_layer_overrides_the_previous_one(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    def current() -> LoadedSettings:
        return load(project, env)

    write(home / "config.toml", GLOBAL)
    assert current().settings.agent.max_iterations == 10

    write(project / "mnemo.toml", "[agent]\nmax_iterations = 20\n")
    assert current().settings.agent.max_iterations == 20

    write(project / ".mnemo" / "config.toml", "[agent]\nmax_iterations = 30\n")
    loaded = current()
    assert loaded.settings.agent.max_iterations == 30
    assert loaded.sources == [
        home / "config.toml",
        project / "mnemo.toml",
        project / ".mnemo" / "config.toml",
    ]

    env["MNEMO_AGENT__MAX_ITERATIONS"] = "40"
    assert current().settings.agent.max_iterations == 40

    loaded = load(project, env, overrides={"agent": {"max_iterations": 50}})
    assert loaded.settings.agent.max_iterations == 50
    # Tables merge: a key set only in the global file survives every layer above it.
    assert loaded.settings.agent.tool_output_max_chars == 1000


def test_model_tables_merge_per_alias(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    write(
        project / "mnemo.toml",
        """
        [models.fast]
        context_window = 2000

        [models.local]
        model = "qwen"
        base_url = "http://localhost:8080/v1"
        """,
    )
    local = endpoint_of({"base_url": "http://localhost:8080/v1"})
    settings = load(project, env, trust=Trust(trusted=True, endpoints=frozenset({local}))).settings
    assert settings.models["fast"].model == "global-model"
    assert settings.models["fast"].context_window == 2000
    assert settings.models["local"].base_url == "http://localhost:8080/v1"
    assert settings.model() == ("fast", settings.models["fast"])


def test_active_model_may_name_an_entry_from_a_later_layer(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", 'active_model = "local"\n')
    write(project / "mnemo.toml", '[models.local]\nmodel = "qwen"\n')
    trust = Trust(trusted=True, endpoints=frozenset({endpoint_of({})}))
    assert load(project, env, trust=trust).settings.active_model == "local"


def test_mnemo_home_is_respected(tmp_path: Path, project: Path, write: Writer) -> None:
    other = tmp_path / "elsewhere"
    write(other / "config.toml", "[safety]\nmode = 'auto'\n")
    loaded = load(project, {"MNEMO_HOME": str(other)})
    assert loaded.settings.safety.mode == "auto"
    assert loaded.sources == [other / "config.toml"]
    assert loaded.global_path == other / "config.toml"


# -- environment ----------------------------------------------------------------------


def test_env_values(project: Path, home: Path, env: dict[str, str], write: Writer) -> None:
    write(home / "config.toml", GLOBAL + '\n[models.other]\nmodel = "o"\n')
    env.update(
        {
            "MNEMO_MODEL": "other",
            "MNEMO_MODE": "auto",
            "MNEMO_AGENT__CONTEXT_BUDGET": "0.5",
            "MNEMO_AGENT__SYSTEM_PROMPT": "be brief",
            "MNEMO_MODELS__FAST__VISION": "true",
            "MNEMO_MODELS__FAST__MODEL": "123",
            "MNEMO_MODELS__FAST__EXTRA_BODY__TOP_K": "40",
            "MNEMO_MODELS__FAST__EXTRA_BODY__NAME": "abc",
            "MNEMO_TOOLS__SHELL_TIMEOUT_S": "",
            "MNEMO_LOG": "debug",
            "MNEMO_SOMETHING_ELSE": "x",
            "OTHER_AGENT__MAX_ITERATIONS": "x",
        }
    )
    settings = load(project, env).settings
    assert settings.active_model == "other"
    assert settings.safety.mode == "auto"
    assert settings.agent.context_budget == 0.5
    assert settings.agent.system_prompt == "be brief"
    fast = settings.models["fast"]
    assert fast.vision is True
    assert fast.model == "123"  # a string setting keeps the raw text
    assert fast.extra_body == {"top_k": 40, "name": "abc"}
    assert fast.context_window == 1000
    assert settings.tools.shell_timeout_s == 120.0  # empty means unset


def test_env_active_model_long_name(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL + '\n[models.other]\nmodel = "o"\n')
    env["MNEMO_ACTIVE_MODEL"] = "other"
    assert load(project, env).settings.active_model == "other"


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        (
            "MNEMO_AGENT__MAX_ITERATONS",
            "5",
            "agent.max_iteratons: unknown key (did you mean max_iterations?) "
            "(from environment variable MNEMO_AGENT__MAX_ITERATONS)",
        ),
        (
            "MNEMO_AGENT__MAX_ITERATIONS",
            "lots",
            "agent.max_iterations: Input should be a valid integer, unable to parse string "
            "as an integer (from environment variable MNEMO_AGENT__MAX_ITERATIONS)",
        ),
        (
            "MNEMO_NOPE__X",
            "1",
            "nope: unknown key (from environment variable MNEMO_NOPE__X)",
        ),
        (
            "MNEMO_MODE",
            "yolo",
            "safety.mode: Input should be 'ask', 'auto' or 'bypass' "
            "(from environment variable MNEMO_MODE)",
        ),
    ],
)
def test_bad_env_var_names_the_variable(
    project: Path, env: dict[str, str], var: str, value: str, expected: str
) -> None:
    env[var] = value
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == expected
    assert caught.value.path is None


def test_conflicting_env_vars(project: Path, env: dict[str, str]) -> None:
    env["MNEMO_AGENT__X"] = "1"
    env["MNEMO_AGENT__X__Y"] = "2"
    with pytest.raises(ConfigError, match="MNEMO_AGENT__X__Y conflicts"):
        load(project, env)


# -- command line -------------------------------------------------------------------


def test_overrides(project: Path, home: Path, env: dict[str, str], write: Writer) -> None:
    write(home / "config.toml", GLOBAL + '\n[models.other]\nmodel = "o"\n')
    env["MNEMO_MODE"] = "bypass"
    overrides = {
        "active_model": "other",
        "safety": {"mode": "auto"},
        "agent": {"max_iterations": 5, "system_prompt": None},
        "tools": None,
    }
    settings = load(project, env, overrides=overrides).settings
    assert settings.active_model == "other"
    assert settings.safety.mode == "auto"
    assert settings.agent.max_iterations == 5
    assert settings.agent.tool_output_max_chars == 1000


def test_bad_override_names_the_command_line(project: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(project, env, overrides={"agent": {"max_iterations": 0}})
    assert str(caught.value) == (
        "agent.max_iterations: Input should be greater than 0 (from the command line)"
    )


# -- file errors ----------------------------------------------------------------------


def test_malformed_toml_names_file_and_line(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(home / "config.toml", "[agent]\nmax_iterations = 3\nsystem_prompt = \n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    err = caught.value
    assert (err.path, err.line) == (path, 3)
    assert str(err) == f"{path}:3: invalid TOML: Invalid value (column 17)"


def test_malformed_project_toml(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    path = write(project / ".mnemo" / "config.toml", "# one\n# two\n[agent\n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert (caught.value.path, caught.value.line) == (path, 3)


def test_unknown_key_names_file_line_and_suggestion(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    path = write(
        project / "mnemo.toml",
        """
        # project settings
        [agent]
        max_iteratons = 5
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == (
        f"{path}:3: agent.max_iteratons: unknown key (did you mean max_iterations?)"
    )
    assert caught.value.key == "agent.max_iteratons"


def test_unknown_top_level_table(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(home / "config.toml", '# typo\n[modles.fast]\nmodel = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == f"{path}:2: modles: unknown key (did you mean models?)"


def test_wrong_type_names_file_line_and_key(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(
        home / "config.toml",
        """
        active_model = "fast"

        [models.fast]
        model = "m"
        # a comment
        base_url = "http://x"
        context_window = "big"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == (
        f"{path}:7: models.fast.context_window: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    assert caught.value.key == "models.fast.context_window"


def test_wrong_type_in_inline_table_and_dotted_keys(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(
        home / "config.toml",
        """
        [models]
        fast = { model = "m", vision = "sometimes" }
        slow.model = "s"
        slow.temperature = 5
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert caught.value.line == 2
    assert caught.value.key == "models.fast.vision"
    assert str(caught.value).endswith("(and 1 more error)")

    write(home / "config.toml", '[models]\nfast = { model = "m" }\nslow.temperature = 5\n')
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert (caught.value.path, caught.value.line) == (path, 3)


def test_missing_field_points_at_the_table_header(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(home / "config.toml", "[agent]\n\n[models.fast]\nvision = true\n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == f"{path}:3: models.fast.model: Field required"


def test_error_names_the_layer_that_introduced_it(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    write(project / "mnemo.toml", "[agent]\nmax_iterations = 7\n")
    bad = write(project / ".mnemo" / "config.toml", "# local\n[safety]\nmode = 'never'\n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == f"{bad}:3: safety.mode: Input should be 'ask', 'auto' or 'bypass'"


def test_active_model_missing_names_where_it_was_set(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    path = write(project / "mnemo.toml", "# use the big one\nactive_model = 'slow'\n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == (
        f"{path}:2: active_model: 'slow' is not a [models.*] entry (known: fast)"
    )


def test_active_model_missing_from_env(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    write(home / "config.toml", GLOBAL)
    env["MNEMO_MODEL"] = "nope"
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert str(caught.value) == (
        "active_model: 'nope' is not a [models.*] entry (known: fast) "
        "(from environment variable MNEMO_MODEL)"
    )


def test_api_key_in_api_key_env_is_rejected(
    project: Path, home: Path, env: dict[str, str], write: Writer
) -> None:
    path = write(home / "config.toml", '[models.x]\nmodel = "m"\napi_key_env = "sk-abc123"\n')
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert (caught.value.path, caught.value.line) == (path, 3)
    assert "not the key itself" in str(caught.value)


def test_unreadable_bytes(project: Path, home: Path, env: dict[str, str]) -> None:
    path = home / "config.toml"
    home.mkdir()
    path.write_bytes(b"[agent]\nsystem_prompt = '\xff'\n")
    with pytest.raises(ConfigError) as caught:
        load(project, env)
    assert (caught.value.path, caught.value.line) == (path, 2)


def test_toml_error_position_on_every_python() -> None:
    from mnemocode.config.loader import _decode_error

    with pytest.raises(tomllib.TOMLDecodeError) as caught:
        tomllib.loads("a = 1\nb = \n")
    err = caught.value
    # Python 3.11-3.13 keep the position only in the message.
    assert _decode_error(err) == (2, "Invalid value (column 5)")
    # Python 3.14+ also have .msg, .lineno and .colno; they win over the message.
    vars(err).update(msg="Invalid value", lineno=9, colno=4)
    assert _decode_error(err) == (9, "Invalid value (column 4)")
