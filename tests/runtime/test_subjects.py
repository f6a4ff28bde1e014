"""Subject matching (NATS rules) and the reversible key encoding."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from mnemocode.config.settings import RuntimeConfig
from mnemocode.core.errors import ConfigError
from mnemocode.runtime.backends import BACKENDS, open_backend
from mnemocode.runtime.subjects import (
    SubjectError,
    decode_key,
    encode_key,
    matches,
    validate_pattern,
    validate_subject,
)
from tests.runtime.test_conformance_state import AWKWARD_KEYS


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a", False),
        ("a.*", "a.b.c", False),
        ("*.b", "a.b", True),
        ("a.*.c", "a.x.c", True),
        ("a.*.c", "a.x.d", False),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        (">", "anything.at.all", True),
        ("*", "one", True),
        ("*", "one.two", False),
        ("a.*.>", "a.b", False),
        ("a.*.>", "a.b.c", True),
    ],
)
def test_matches_follows_nats_rules(pattern: str, subject: str, expected: bool) -> None:
    validate_pattern(pattern)
    validate_subject(subject)
    assert matches(pattern, subject) is expected


@pytest.mark.parametrize("subject", ["", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a.b*"])
def test_bad_subjects_are_refused(subject: str) -> None:
    with pytest.raises(SubjectError):
        validate_subject(subject)


@pytest.mark.parametrize("pattern", ["", "a.>.b", "a..b", "a.b>", "x y.z"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(SubjectError):
        validate_pattern(pattern)


@pytest.mark.parametrize("key", [*AWKWARD_KEYS, "é", "\u00a0", "a" * 300, "\ud800"])
def test_keys_round_trip_through_the_nats_safe_alphabet(key: str) -> None:
    encoded = encode_key(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", encoded)
    assert decode_key(encoded) == key


def test_encoding_keeps_plain_keys_readable_and_prefixes_aligned() -> None:
    assert encode_key("agent-7") == "agent-7"
    assert encode_key("a:b") == "a_3Ab"
    for key in AWKWARD_KEYS:
        for cut in range(1, len(key)):
            assert encode_key(key).startswith(encode_key(key[:cut]))
    assert not encode_key("ab").startswith(encode_key("a_"))


@pytest.mark.parametrize("encoded", ["", "a.b", "_3", "_3a", "_ZZ", "_FF"])
def test_decode_refuses_what_encode_never_makes(encoded: str) -> None:
    with pytest.raises(SubjectError):
        decode_key(encoded)


def test_empty_key_is_refused() -> None:
    with pytest.raises(SubjectError):
        encode_key("")


def test_backends_are_the_four_named_in_config() -> None:
    assert BACKENDS == ("memory", "sqlite", "redis", "nats")


@pytest.mark.parametrize("name", ["redis", "nats"])
async def test_server_backends_need_a_url(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[runtime\] url"):
        await open_backend(RuntimeConfig.model_validate({"backend": name}), home=tmp_path)


@pytest.mark.parametrize("name", ["redis", "nats"])
async def test_a_missing_client_package_names_the_extra(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # as if the package were not installed
    config = RuntimeConfig.model_validate({"backend": name, "url": f"{name}://127.0.0.1:1"})
    with pytest.raises(ConfigError, match=rf"pip install 'mnemocode\[{name}\]'"):
        await open_backend(config, home=tmp_path)
