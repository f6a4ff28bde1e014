from __future__ import annotations

import stat
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from mnemocode.config import (
    ModelConfig,
    atomic_write_text,
    load_settings,
    set_active_model,
    write_model_config,
)
from mnemocode.core.errors import ConfigError

Writer = Callable[[Path, str], Path]

USER_FILE = """
    # My mnemo config — hand written.
    active_model = "old"  # the one I use

    [agent]
    # keep runs short
    max_iterations = 12

    [models.old]
    model = "gpt-old"  # legacy
    api_key_env = "OPENAI_API_KEY"
    """


def test_new_file_creates_a_private_home(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".mnemo"
    path = home / "config.toml"
    write_model_config(
        path,
        "local",
        {"model": "qwen", "base_url": "http://localhost:8080/v1", "context_window": 32_000},
    )
    assert path.read_text() == textwrap.dedent(
        """\
        active_model = "local"

        [models.local]
        model = "qwen"
        base_url = "http://localhost:8080/v1"
        context_window = 32000
        """
    )
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings(tmp_path, env={"MNEMO_HOME": str(home)}).settings
    assert settings.model() == ("local", settings.models["local"])
    assert settings.models["local"].context_window == 32_000


def test_preserves_comments_and_other_content(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    write_model_config(
        path, "fast", ModelConfig(model="gpt-fast", api_key_env="OPENAI_API_KEY", vision=True)
    )
    assert path.read_text() == textwrap.dedent(
        """\
        # My mnemo config — hand written.
        active_model = "fast"  # the one I use

        [agent]
        # keep runs short
        max_iterations = 12

        [models.old]
        model = "gpt-old"  # legacy
        api_key_env = "OPENAI_API_KEY"

        [models.fast]
        model = "gpt-fast"
        api_key_env = "OPENAI_API_KEY"
        vision = true
        """
    )
    settings = load_settings(tmp_path, env={"MNEMO_HOME": str(tmp_path)}).settings
    assert settings.active_model == "fast"
    assert settings.agent.max_iterations == 12
    assert set(settings.models) == {"old", "fast"}


def test_replacing_an_entry_keeps_comments_and_drops_stale_keys(
    tmp_path: Path, write: Writer
) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    write_model_config(path, "old", {"model": "gpt-old", "max_retries": 2}, make_active=False)
    assert path.read_text() == textwrap.dedent(
        """\
        # My mnemo config — hand written.
        active_model = "old"  # the one I use

        [agent]
        # keep runs short
        max_iterations = 12

        [models.old]
        model = "gpt-old"  # legacy
        max_retries = 2
        """
    )


def test_rewriting_the_same_entry_is_a_no_op(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    before = path.read_text()
    write_model_config(path, "old", {"model": "gpt-old", "api_key_env": "OPENAI_API_KEY"})
    assert path.read_text() == before


def test_out_of_order_models_table(tmp_path: Path, write: Writer) -> None:
    path = write(
        tmp_path / "config.toml",
        '[models.a]\nmodel = "x"\n\n[agent]\nmax_iterations = 3\n\n[models.b]\nmodel = "y"\n',
    )
    write_model_config(path, "c", {"model": "z"})
    settings = load_settings(tmp_path, env={"MNEMO_HOME": str(tmp_path)}).settings
    assert sorted(settings.models) == ["a", "b", "c"]
    assert settings.active_model == "c"
    assert settings.agent.max_iterations == 3


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"model": "m", "api_key": "sk-secret-1"}, "models.x.api_key: unknown key (API keys"),
        ({"model": "m", "api_key_env": "sk-secret-1"}, "models.x.api_key_env: Value error"),
    ],
)
def test_never_writes_api_keys(
    tmp_path: Path, write: Writer, model: dict[str, str], message: str
) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    before = path.read_text()
    with pytest.raises(ConfigError) as caught:
        write_model_config(path, "x", model)
    assert str(caught.value).startswith(message)
    assert path.read_text() == before
    assert "sk-secret" not in str(caught.value)


def test_bad_alias(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model alias 'my model'"):
        write_model_config(tmp_path / "config.toml", "my model", {"model": "m"})
    assert not (tmp_path / "config.toml").exists()


def test_refuses_to_overwrite_a_broken_file(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "config.toml", "# ok\n[agent\n")
    with pytest.raises(ConfigError) as caught:
        write_model_config(path, "x", {"model": "m"})
    assert (caught.value.path, caught.value.line) == (path, 2)
    assert path.read_text() == "# ok\n[agent\n"


def test_unserialisable_value_leaves_the_file_alone(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    before = path.read_text()
    with pytest.raises(ConfigError, match="cannot be written as TOML"):
        write_model_config(path, "x", {"model": "m", "extra_body": {"k": object()}})
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_atomic_write_failing_midway_leaves_no_partial_file(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "config.toml", "a = 1\n")
    # A lone surrogate cannot be encoded: the write fails after the temp file exists.
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "a = 2\n" * 1000 + "b = '\ud800'\n")
    assert path.read_text() == "a = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_atomic_write_keeps_the_existing_mode(tmp_path: Path, write: Writer) -> None:
    path = write(tmp_path / "mnemo.toml", "a = 1\n")
    path.chmod(0o640)
    atomic_write_text(path, "a = 2\n")
    assert path.read_text() == "a = 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_set_active_model(tmp_path: Path, write: Writer) -> None:
    path = write(
        tmp_path / "config.toml", textwrap.dedent(USER_FILE) + '[models.fast]\nmodel = "f"\n'
    )
    set_active_model(path, "fast")
    text = path.read_text()
    assert text.splitlines()[1] == 'active_model = "fast"  # the one I use'
    assert text.count("active_model") == 1
    assert load_settings(tmp_path, env={"MNEMO_HOME": str(tmp_path)}).settings.active_model == (
        "fast"
    )


def test_set_active_model_on_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "proj" / ".mnemo" / "config.toml"
    set_active_model(path, "fast")
    assert path.read_text() == 'active_model = "fast"\n'
