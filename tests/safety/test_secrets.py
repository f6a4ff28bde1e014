"""Redaction of secret values and token shapes from output and audit arguments."""

from __future__ import annotations

import time

import pytest

from mnemocode.safety.secrets import (
    MAX_ARGUMENT_CHARS,
    Redactor,
    default_redactor,
    is_secret_name,
    redact_args,
)

OPENAI = "sk-proj-Zq8Rk2LmN4pQ7sT1uV3wX5yZ9aB0cD6eF"
ANTHROPIC = "sk-ant-api03-Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

ENV = {
    "OPENAI_API_KEY": OPENAI,
    "ANTHROPIC_API_KEY": ANTHROPIC,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "GITHUB_TOKEN": "plain-token-value-123",
    "DB_PASSWORD": "hunter2-is-long",
    "MY_SERVICE_PASSWD": "pa$$w0rd.*+?",  # regex characters are matched literally
    "SHORT_TOKEN": "abc1234",  # under 8 characters: not redacted
    "HOME": "/home/alice",
    "PATH": "/usr/bin:/bin",
    "SSH_AUTH_SOCK": "/tmp/ssh-XXXX/agent.42",
    "GIT_AUTHOR_NAME": "Alice Example",
    "DATABASE_URL": "postgres://app:dbpass99@db.internal/app",
}


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(ENV)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("anthropic_api_key", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("PGPASSWORD", True),
        ("MYSQL_PWD", True),
        ("SMTP_PASS", True),
        ("GPG_PASSPHRASE", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("NPM_CONFIG__AUTH", True),
        ("SLACK_WEBHOOK_URL", True),
        ("SENTRY_DSN", True),
        ("DATABASE_URL", True),
        ("PROXY_AUTHORIZATION", True),
        ("GIT_COMMITTER_NAME", False),
        ("CERT_AUTHORITY_FILE", False),
        ("HOME", False),
        ("PATH", False),
        ("PWD", False),
        ("OLDPWD", False),
        ("SSH_AUTH_SOCK", False),
        ("XAUTHORITY", False),
        ("GIT_AUTHOR_NAME", False),
        ("KEYBOARD_LAYOUT", False),
        ("EDITOR", False),
    ],
)
def test_which_variables_hold_secrets(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_env_values_are_replaced_by_their_names(redactor: Redactor) -> None:
    text = (
        f"export OPENAI_API_KEY={OPENAI}\n"
        f"curl -H 'x-api-key: {ANTHROPIC}' https://api.example\n"
        f"aws secret {AWS_SECRET}\n"
        "token=plain-token-value-123; pw=hunter2-is-long and pa$$w0rd.*+? end\n"
        "short abc1234, home /home/alice, author Alice Example, sock /tmp/ssh-XXXX/agent.42\n"
    )
    out = redactor.redact(text)
    assert "[REDACTED:OPENAI_API_KEY]" in out and OPENAI not in out
    assert "[REDACTED:ANTHROPIC_API_KEY]" in out and ANTHROPIC not in out
    assert "[REDACTED:AWS_SECRET_ACCESS_KEY]" in out and AWS_SECRET not in out
    assert "token=[REDACTED:GITHUB_TOKEN]; pw=[REDACTED:DB_PASSWORD]" in out
    assert "and [REDACTED:MY_SERVICE_PASSWD] end" in out
    # Not secrets, or too short to redact safely: left alone.
    assert "short abc1234, home /home/alice, author Alice Example" in out
    assert "/tmp/ssh-XXXX/agent.42" in out
    assert redactor.names == [
        "ANTHROPIC_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DATABASE_URL",
        "DB_PASSWORD",
        "GITHUB_TOKEN",
        "MY_SERVICE_PASSWD",
        "OPENAI_API_KEY",
    ]


def test_the_longest_value_wins_when_one_contains_another() -> None:
    redactor = Redactor({"A_TOKEN": "abcdefgh", "B_TOKEN": "abcdefgh-ijkl"})
    assert (
        redactor.redact("x abcdefgh-ijkl y abcdefgh") == "x [REDACTED:B_TOKEN] y [REDACTED:A_TOKEN]"
    )


@pytest.mark.parametrize(
    ("token", "label"),
    [
        ("sk-" + "Ab1" * 16, "api-key"),
        ("sk-proj-" + "Xy9_" * 20, "api-key"),
        ("sk-ant-api03-" + "Kd8" * 30, "api-key"),
        ("ghp_" + "a1B2c3D4e5" * 4, "github-token"),
        ("gho_" + "Z" * 36, "github-token"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github-token"),
        ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
        ("xoxp-1234-5678-abcdefgh", "slack-token"),
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("ASIAY34FZKBOKMUTVV7A", "aws-access-key-id"),
        ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "google-api-key"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123", "hf-token"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
        ),
    ],
)
def test_token_shapes_are_redacted_without_env(token: str, label: str) -> None:
    out = Redactor({}).redact(f"found ({token}) here")
    assert out == f"found ([REDACTED:{label}]) here"


@pytest.mark.parametrize(
    "text",
    [
        "git checkout sk-some-long-feature-branch-name",  # no digits or capitals
        "task-abcdefghijklmnopqrstuvwxyz0123ABC",  # 'sk-' inside a word
        "AKIAIOSFODNN7EXAMPLEXX",  # too long for an access key id
        "the ghp_ prefix alone",
        "XAKIAIOSFODNN7EXAMPLE",  # inside a longer upper-case word
        "https://example.com/path:with:colons/x",
        "ssh git@github.com:org/repo.git",
        "Authorization: Bearer",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert Redactor({}).redact(text) == text


def test_private_key_blocks_whole_or_cut_off() -> None:
    block = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "-----END OPENSSH PRIVATE KEY-----"
    )
    redactor = Redactor({})
    assert redactor.redact(f"before\n{block}\nafter") == "before\n[REDACTED:private-key]\nafter"
    rsa = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert redactor.redact(rsa) == "[REDACTED:private-key]"
    cut = "key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    assert redactor.redact(cut) == "key:\n[REDACTED:private-key]"
    public = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----"
    assert redactor.redact(public) == public


def test_url_passwords_and_authorization_headers_keep_their_prefix() -> None:
    redactor = Redactor({})
    assert (
        redactor.redact("connecting to postgres://app:s3cret-pw@db:5432/app")
        == "connecting to postgres://app:[REDACTED:url-password]@db:5432/app"
    )
    assert (
        redactor.redact("redis://:onlypassword@cache:6379")
        == "redis://:[REDACTED:url-password]@cache:6379"
    )
    assert (
        redactor.redact('curl -H "authorization: Bearer abc.def-123456"')
        == 'curl -H "authorization: Bearer [REDACTED:authorization]"'
    )
    assert (
        redactor.redact("Authorization: Basic dXNlcjpwYXNzd29yZA==")
        == "Authorization: Basic [REDACTED:authorization]"
    )


def test_env_value_inside_a_url_uses_the_variable_name(redactor: Redactor) -> None:
    out = redactor.redact("DATABASE_URL=postgres://app:dbpass99@db.internal/app")
    assert out == "DATABASE_URL=[REDACTED:DATABASE_URL]"


def test_a_megabyte_of_output_is_fast(redactor: Redactor) -> None:
    env = dict(ENV)
    env.update({f"SERVICE_{i}_TOKEN": f"tok{i:03d}-" + "Zx9" * 10 for i in range(30)})
    many = Redactor(env)
    line = "2024-01-01 12:00:00 INFO src/app/service.py:123 processed 1234 items in 0.5s ok\n"
    text = line * (1_000_000 // len(line)) + f"leak {OPENAI} end"
    hostile = (
        " sk-" + "a" * 200_000 + " ://x:" + "y" * 200_000 + " -----BEGIN PRIVATE KEY-----" * 9000
    )
    for redactor_, sample in ((many, text), (many, hostile), (redactor, text)):
        start = time.perf_counter()
        out = redactor_.redact(sample)
        elapsed = time.perf_counter() - start
        assert elapsed < 1.0, f"redacting {len(sample)} characters took {elapsed:.2f}s"
    assert many.redact(text).endswith("leak [REDACTED:OPENAI_API_KEY] end")
    assert out.count("\n") == text.count("\n")


def test_redact_args_for_the_audit_log(redactor: Redactor) -> None:
    args = {
        "command": f"curl -H 'Authorization: Bearer {OPENAI}' https://x",
        "api_key": "anything-at-all",
        "timeout": 30,
        "env": {"GITHUB_TOKEN": "whatever", "LANG": "C.UTF-8"},
        "files": ["a.txt", f"leak-{AWS_SECRET}"],
        "content": "x" * (MAX_ARGUMENT_CHARS + 10),
        "max_tokens": 100,
    }
    out = redactor.redact_args(args)
    assert OPENAI not in out["command"] and "[REDACTED:" in out["command"]
    assert out["api_key"] == "[REDACTED:api_key]"
    assert out["timeout"] == 30 and out["max_tokens"] == 100
    assert out["env"] == {"GITHUB_TOKEN": "[REDACTED:GITHUB_TOKEN]", "LANG": "C.UTF-8"}
    assert out["files"] == ["a.txt", "leak-[REDACTED:AWS_SECRET_ACCESS_KEY]"]
    assert out["content"].startswith("x" * MAX_ARGUMENT_CHARS)
    assert out["content"].endswith("…[10 more characters]")
    assert args["api_key"] == "anything-at-all"  # the caller's dict is not touched


def test_module_redact_args_uses_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNEMO_TEST_SECRET_TOKEN", "from-the-environment-123")
    default_redactor.cache_clear()
    try:
        out = redact_args({"command": "echo from-the-environment-123"})
        assert out == {"command": "echo [REDACTED:MNEMO_TEST_SECRET_TOKEN]"}
        explicit = redact_args({"command": "echo " + OPENAI}, Redactor(ENV))
        assert explicit == {"command": "echo [REDACTED:OPENAI_API_KEY]"}
    finally:
        default_redactor.cache_clear()
