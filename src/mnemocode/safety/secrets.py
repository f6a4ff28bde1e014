"""Secret redaction: command output and audit records never carry a key in clear.

``Redactor(env).redact(text)`` replaces

- the value of every API-key-like environment variable (a name containing KEY,
  TOKEN, SECRET, PASSWORD, PASSWD, PASSPHRASE, CREDENTIAL, AUTH, PRIVATE, COOKIE,
  WEBHOOK, DSN, or ending in ``_PASS``/``_PWD``, plus well-known names such as
  ``DATABASE_URL``) whose value has at least 8 characters, by ``[REDACTED:NAME]``;
- well-known token shapes even when they are in no variable: OpenAI/Anthropic
  ``sk-…``, GitHub ``ghp_…``/``github_pat_…``, Slack ``xox[abprs]-…``, AWS access
  key ids ``AKIA…``/``ASIA…``, Google ``AIza…``, Stripe ``sk_live_…``, Hugging Face
  ``hf_…``, JWTs, ``-----BEGIN … PRIVATE KEY-----`` blocks (to the END line, or the
  end of the text when the output was cut), the password in ``scheme://user:pw@``
  URLs and the credential after ``Authorization: Bearer|Basic|Token``.

All of it is one compiled regular expression, so a megabyte of output is one pass.
Names that contain a keyword but hold no secret (``SSH_AUTH_SOCK``, ``XAUTHORITY``,
``GIT_AUTHOR_NAME``, ``KEYBOARD``…) are left alone. The trade-off is deliberate:
a variable named like a secret whose value is an ordinary word (``AUTH_MODE=disabled``)
redacts that word everywhere — over-redaction is the safe failure.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Any

MIN_SECRET_LENGTH = 8
MAX_ARGUMENT_CHARS = 4_096

_SECRET_NAME = re.compile(
    r"KEY(?!BOARD|MAP|TIMEOUT|WORD)|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL"
    r"|AUTH(?!OR(?!IZ))|PRIVATE|COOKIE|WEBHOOK|DSN|_PASS$|_PWD$|^PASS$",
    re.IGNORECASE,
)
# Named like a secret, but not one.
_NOT_SECRET_NAMES = frozenset(
    {
        "SSH_AUTH_SOCK",
        "XAUTHORITY",
        "XAUTHLOCALHOSTNAME",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "GPG_TTY",
        "PWD",
        "OLDPWD",
    }
)
# Well-known secrets: the pattern misses some (DATABASE_URL); the rest are listed so
# that they stay redacted whatever becomes of the pattern.
KNOWN_SECRET_NAMES = frozenset(
    {
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "HF_TOKEN",
        "DATABASE_URL",
        "REDIS_URL",
        "MONGODB_URI",
        "MONGO_URL",
        "AMQP_URL",
        "CELERY_BROKER_URL",
        "MYSQL_PWD",
        "PGPASSWORD",
    }
)

# (label, pattern). A label becomes [REDACTED:label]. Every pattern starts with a
# plain character, never a group or a look-behind: then the combined expression
# knows the set of characters a match can start with and skips the rest of the
# text in C, which keeps a megabyte of output to a few milliseconds. A look-behind
# that keeps a token from matching inside a longer word comes after that character.
_WORD = "A-Za-z0-9_-"
_SHAPES: tuple[tuple[str, str], ...] = (
    (
        "private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]*?(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    # ``sk-`` also starts branch names: a real key mixes digits and capitals.
    (
        "api-key",
        rf"s(?<![{_WORD}]s)k-(?=[{_WORD}]*[0-9])(?=[{_WORD}]*[A-Z])[{_WORD}]{{20,}}",
    ),
    ("github-token", r"g(?<![A-Za-z0-9_]g)(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_\w{22,})"),
    ("slack-token", rf"x(?<![{_WORD}]x)ox[abprs]-[A-Za-z0-9-]{{10,}}"),
    ("aws-access-key-id", r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ("google-api-key", rf"A(?<![{_WORD}]A)Iza[0-9A-Za-z_-]{{35}}"),
    ("stripe-key", r"s(?<![A-Za-z0-9_]s)k_live_[0-9A-Za-z]{16,}"),
    ("stripe-key", r"r(?<![A-Za-z0-9_]r)k_live_[0-9A-Za-z]{16,}"),
    ("hf-token", r"h(?<![A-Za-z0-9_]h)f_[A-Za-z0-9]{30,}"),
    ("jwt", rf"e(?<![{_WORD}]e)yJ[{_WORD}]{{8,}}\.eyJ[{_WORD}]{{8,}}\.[{_WORD}]{{8,}}"),
    # These keep what comes before the secret: "://user:" and "Authorization: Bearer ".
    ("url-password", r"://[^\s/:@]*:[^\s/@]+(?=@)"),
    *(
        ("authorization", rf"{word}\s*[:=]\s*[\"']?(?:{kinds})\s+[^\s\"']{{8,}}")
        for word in ("Authorization", "authorization", "AUTHORIZATION")
        for kinds in ("Bearer|Basic|Token|bearer|basic|token",)
    ),
)
_KEPT_PREFIX = {
    "url-password": re.compile(r"://[^:]*:"),
    "authorization": re.compile(r".*\s", re.DOTALL),
}


def is_secret_name(name: str) -> bool:
    """Whether an environment variable of this name holds a secret."""
    upper = name.upper()
    if upper in _NOT_SECRET_NAMES:
        return False
    return upper in KNOWN_SECRET_NAMES or _SECRET_NAME.search(upper) is not None


class Redactor:
    """Replaces secret values and token shapes in text. Build one per environment."""

    def __init__(self, env: Mapping[str, str]) -> None:
        by_value: dict[str, str] = {}
        for name in sorted(env):
            value = env[name]
            if len(value) >= MIN_SECRET_LENGTH and is_secret_name(name):
                by_value.setdefault(value, name)
        self._names = by_value
        # Shapes in named groups that open after their first character (see above);
        # environment values are plain alternatives, found by lookup.
        shapes = [f"{p[0]}(?P<g{i}>{p[1:]})" for i, (_, p) in enumerate(_SHAPES)]
        values = [re.escape(v) for v in sorted(by_value, key=len, reverse=True)]
        self._pattern = re.compile("|".join(values + shapes))

    @property
    def names(self) -> list[str]:
        """The variables whose values are redacted (for diagnostics, never the values)."""
        return sorted(set(self._names.values()))

    def _replace(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if match.lastgroup is None:
            return f"[REDACTED:{self._names[text]}]"
        label = _SHAPES[int(match.lastgroup[1:])][0]
        kept = _KEPT_PREFIX.get(label)
        prefix = kept.match(text) if kept is not None else None
        return f"{prefix.group(0) if prefix else ''}[REDACTED:{label}]"

    def redact(self, text: str) -> str:
        return self._pattern.sub(self._replace, text)

    def redact_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of tool arguments fit for a log: strings redacted and capped at
        ``MAX_ARGUMENT_CHARS``, values under secret-looking keys replaced whole."""
        return {key: self._value(key, value) for key, value in args.items()}

    def _value(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            if is_secret_name(key) and len(value) > 0:
                return f"[REDACTED:{key}]"
            text = self.redact(value)
            if len(text) > MAX_ARGUMENT_CHARS:
                cut = len(text) - MAX_ARGUMENT_CHARS
                text = f"{text[:MAX_ARGUMENT_CHARS]}…[{cut} more characters]"
            return text
        if isinstance(value, Mapping):
            return {str(k): self._value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._value(key, item) for item in value]
        return value


@functools.cache
def default_redactor() -> Redactor:
    """A redactor for this process's environment, built on first use."""
    return Redactor(dict(os.environ))


def redact_args(args: Mapping[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """``Redactor.redact_args`` with this process's environment by default."""
    return (redactor or default_redactor()).redact_args(args)
