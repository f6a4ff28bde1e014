from __future__ import annotations

import textwrap
import tomllib

from mnemocode.config._toml_lines import key_lines, line_of

DOC = textwrap.dedent(
    '''\
    # comment [not.a.table]
    active_model = "fast"  # [x]
    s = """
    [not.a.table]
    a = 1 """
    [models]
    fast.model = "x"
    "quoted.key".v = 1
    [ models . slow ]
    context_window = "abc"
    extra_body = { a = 1, b = { c = [1,
      2] } }
    arr = [
      # comment ]
      {x = 1},
      {y = 'a]'},
    ]
    [[servers]]
    name = "a"
    [[servers]]
    name = "b"
    [servers.opts]
    k = 1
    '''
)


def test_doc_is_valid_toml() -> None:
    tomllib.loads(DOC)


def test_key_lines() -> None:
    lines = key_lines(DOC)
    assert lines[("active_model",)] == 2
    assert lines[("s",)] == 3
    assert ("not",) not in lines
    assert ("a",) not in lines
    assert lines[("models",)] == 6
    assert lines[("models", "fast", "model")] == 7
    assert lines[("models", "quoted.key", "v")] == 8
    assert lines[("models", "slow")] == 9
    assert lines[("models", "slow", "context_window")] == 10
    assert lines[("models", "slow", "extra_body", "b", "c", 1)] == 12
    assert lines[("models", "slow", "arr", 0, "x")] == 15
    assert lines[("models", "slow", "arr", 1, "y")] == 16
    assert lines[("servers", 0, "name")] == 19
    assert lines[("servers", 1, "name")] == 21
    assert lines[("servers", 1, "opts", "k")] == 23


def test_line_of_falls_back_to_parent_then_none() -> None:
    lines = key_lines(DOC)
    assert line_of(lines, ("models", "slow", "missing")) == 9
    assert line_of(lines, ("nowhere", "at_all")) is None
