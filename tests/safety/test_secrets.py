"""Redaction of secret values and token shapes from output and audit arguments."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

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


# ---- key material without its armour, credential files, through the real tools -------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real keys, made by the real tools: OpenSSH ed25519 and RSA, PEM RSA, PKCS#8."""
    folder = tmp_path_factory.mktemp("keys")
    made = {"ed25519": ["-t", "ed25519"], "rsa": ["-t", "rsa", "-b", "2048"]}
    made["pem"] = [*made["rsa"], "-m", "PEM"]
    for name, args in made.items():
        subprocess.run(
            ["ssh-keygen", "-q", *args, "-N", "", "-C", "me@host", "-f", str(folder / name)],
            check=True,
        )
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(folder / "pkcs8")],
        check=True,
        capture_output=True,
    )
    return {name: folder / name for name in [*made, "pkcs8"]}


def _body_pieces(key: Path) -> list[str]:
    """Every 24-character piece of the key's base64 body: none may survive."""
    body = "".join(line for line in key.read_text().splitlines() if "-----" not in line)
    return [body[i : i + 24] for i in range(0, len(body) - 24, 12)]


@pytest.mark.parametrize(
    "command",
    [
        "tail -n +2 {key}",
        "sed 1d {key}",
        "xargs -n1 < {key}",
        "tail -n +2 {key} | tr '\\n' ' '",
        "sed 1d {key} | tr -d '\\n'",
        "grep -nv BEGIN {key}",
        "grep -v BEGIN -H -n {key}",
        "cat -n {key} | tail -n +2",
        "tail -n +2 {key} | head -n 4",  # cut short: three lines are enough
    ],
)
def test_key_bodies_without_their_begin_line_are_redacted(
    keys: dict[str, Path], command: str
) -> None:
    redactor = Redactor({})
    for name, key in keys.items():
        done = subprocess.run(
            ["bash", "-c", command.format(key=key)], capture_output=True, text=True, check=True
        )
        out = redactor.redact(done.stdout)
        assert "[REDACTED:private-key]" in out, (name, out)
        leaked = [piece for piece in _body_pieces(key) if piece in out]
        if "head -n 4" in command:
            leaked = [piece for piece in leaked if piece in done.stdout.splitlines()[0]]
        assert leaked == [], (name, command, out)


def test_a_public_key_stays_readable(keys: dict[str, Path]) -> None:
    redactor = Redactor({})
    for key in keys.values():
        public = key.with_name(key.name + ".pub")
        if public.exists():
            text = public.read_text()
            assert redactor.redact(text) == text


INTEGRITY = [
    "/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
    "ZTfhKoPaVeQJgt0OCpMg9OvN4r6SYsq1rbiKmmhHTbOcIy6nEn1lPGJWKbI+gqNxJKjDWMbVBVtgZXkMXJ+1lQ==",
    "XTfhKoPaVeQJgt0OCpMg9OvN4r6SYsq1rbiKmmhHTbOcIy6nEn1lPGJWKbI+gqNxJKjDWMbVBVtgZXkMXJ+1lQ==",
]
LOCKFILE = (
    '    "node_modules/react": {\n      "version": "18.2.0",\n'
    '      "resolved": "https://registry.npmjs.org/react/-/react-18.2.0.tgz",\n'
    + "".join(f'      "integrity": "sha512-{value}",\n' for value in INTEGRITY)
)
READABLE = [
    LOCKFILE,
    # uv.lock / poetry.lock / sha256sum: hex digests, one per line
    "\n".join(f"{i:064x}" for i in range(2**250, 2**250 + 5)),
    "d2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26  dist/a.whl\n" * 4,
    # go.sum
    "github.com/a/b v1.0.0 h1:Zbx7H7dk1vD6KxqOUqc7MrYY1Q52khHZ8ZzO6mbdU0w=\n"
    "github.com/a/b v1.0.0/go.mod h1:Zbx7H7dk1vD6KxqOUqc7MrYY1Q52khHZ8ZzO6mbdU0w=\n" * 3,
    # a minified JS line
    '!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t()'
    ':"function"==typeof define&&define.amd?define(t):(e=e||self).Vue=t()}(this,function()'
    '{"use strict";var e=Object.freeze({});function t(e){return null==e}' * 10,
    "A" * 500,  # a run of one character is no key
    "ThisIsAVeryLongCamelCaseIdentifierThatGoesOnAndOn = 1\n" * 3,
    "    password = request.form['password']\n    password = self.password\n",
    "Enter the password for your account.\nThe password is stored in the keychain.\n",
]


@pytest.mark.parametrize("text", READABLE)
def test_lockfiles_digests_and_code_stay_readable(text: str) -> None:
    assert Redactor({}).redact(text) == text


GHP = "ghp_" + "R4nd0mT0k3nV4lu3x" * 2 + "Ab"
PAT = "github_pat_11ABCDEFG0" + "aBcD3fGh1jKlMn0pQrStUv" * 2
ANT = "sk-ant-api03-" + "Kd8Lm2Np4Qr6St" * 6
PROJ = "sk-proj-" + "Zq8Rk2LmN4pQ7sT1uV3wX5y" * 3
AWS_FILE_SECRET = "Xk9/aB3+cD5eF7gH1iJ2kL4mN6oP8qR0sT2uV4wY"
NETRC_PASSWORD = "n3trc-Pa55w0rd-value"
PYPI_PASSWORD = "pypi-AgEIcHlwaS5vcmcCJGFiY2QtZWZnaA"


@pytest.fixture
def secret_home(tmp_path: Path, keys: dict[str, Path]) -> Path:
    """A temporary HOME holding fake secrets in their usual files and formats."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        f"aws_secret_access_key = {AWS_FILE_SECRET}\n"
        f"[work]\nAWS_SECRET_ACCESS_KEY={AWS_FILE_SECRET}\n"
    )
    (home / ".netrc").write_text(
        f"machine api.example.com login octo password {NETRC_PASSWORD}\n"
        f"machine other.example.com\n  login me\n  password {NETRC_PASSWORD}\n"
    )
    (home / ".pypirc").write_text(f"[pypi]\nusername = __token__\npassword = {PYPI_PASSWORD}\n")
    (home / "project").mkdir()
    (home / "project" / "settings.py").write_text(
        f'GITHUB = "{GHP}"\nPAT = "{PAT}"\nCLAUDE = "{ANT}"\nOPENAI = "{PROJ}"\n'
    )
    (home / ".ssh").mkdir()
    key = keys["ed25519"]
    (home / ".ssh" / "id_ed25519").write_bytes(key.read_bytes())
    return home


MARKERS = [GHP, PAT, ANT, PROJ, AWS_FILE_SECRET, NETRC_PASSWORD, PYPI_PASSWORD]


def _leaks(text: str, home: Path) -> list[str]:
    key = home / ".ssh" / "id_ed25519"
    return [m for m in MARKERS if m in text] + [p for p in _body_pieces(key) if p in text]


async def test_file_read_and_grep_output_is_redacted(secret_home: Path) -> None:
    from mnemocode.core.protocols import ToolContext
    from mnemocode.core.types import ToolCall
    from mnemocode.safety.sandbox import LocalSandbox
    from mnemocode.tools.files import file_read
    from mnemocode.tools.search import grep

    ctx = ToolContext(cwd=secret_home, sandbox=LocalSandbox(), settings={})
    redactor = Redactor({})
    outputs = []
    for path in [
        ".aws/credentials",
        ".netrc",
        ".pypirc",
        "project/settings.py",
        ".ssh/id_ed25519",
    ]:
        result = await file_read.run(ToolCall("1", "file_read", {"path": path}), ctx)
        assert not result.is_error, result.text
        outputs.append(result.text)
    for pattern, path in [(".", ".aws"), ("pass", "."), (".", ".ssh"), ("[A-Za-z0-9]{40}", ".")]:
        call = ToolCall("2", "grep", {"pattern": pattern, "path": path, "max_results": 500})
        result = await grep.run(call, ctx)
        assert not result.is_error, result.text
        outputs.append(result.text)
    # The tools hand the secrets over verbatim: redaction is what keeps them out.
    assert set(_leaks("\n".join(outputs), secret_home)) >= set(MARKERS)
    for text in outputs:
        assert _leaks(redactor.redact(text), secret_home) == [], redactor.redact(text)
    redacted = redactor.redact(outputs[0])
    assert "aws_secret_access_key = [REDACTED:credential]" in redacted
    assert "[REDACTED:aws-access-key-id]" in redacted
