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

- key material without its armour (``tail -n +2 id_rsa``, ``xargs -n1 < id_rsa``, the
  key split into words, some of its lines picked by grep): three or more base64
  chunks of 40–100 characters in a row, one per line or separated by spaces (and by
  ``grep -n``/``cat -n``/``file_read`` line prefixes), a line that is one such chunk
  alone, and any base64 run of 200 characters or more, become
  ``[REDACTED:private-key]``. Both must mix capitals, small letters and digits, so
  hex digests, ``sha512-…`` integrity fields (88 characters), minified code and
  repeated characters stay; an OpenSSH public key (``ssh-ed25519 AAAA…``) stays;
  certificates and other long base64 (``data:`` URIs) are redacted;
- credential-file lines: ``aws_secret_access_key``/``aws_session_token`` (the
  ``~/.aws/credentials`` format, ``export`` and ``=`` or ``:``), ``password``/``passwd``
  at the start of a line (``.pypirc``, multi-line ``.netrc``) and ``.netrc``'s
  ``machine … login … password …`` — the name stays, the value goes.

The shapes are one compiled regular expression; the armourless-key and the
credential-file rules are one more each, run only when a cheap substring check
says they could match, so a megabyte of ordinary output is one pass.
Names that contain a keyword but hold no secret (``SSH_AUTH_SOCK``, ``XAUTHORITY``,
``GIT_AUTHOR_NAME``, ``KEYBOARD``…) are left alone. The trade-off is deliberate:
a variable named like a secret whose value is an ordinary word (``AUTH_MODE=disabled``)
redacts that word everywhere — over-redaction is the safe failure.
"""

from __future__ import annotations

import functools
import os
import re
import string
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


# Key material without its BEGIN line, and credential-file lines (see the docstring).
_B64 = "A-Za-z0-9+/"
_CHUNK = f"[{_B64}]{{40,100}}={{0,2}}"
# What grep -n, cat -n and file_read put before a line: "path:12:", "12-", "    12\t".
_LINE_PREFIX = r"(?:(?:[^\n:]{0,200}[:-])?[0-9]+[:-]|[ \t]*[0-9]+\t)?"
# Between two chunks: spaces, or a line break (and a line prefix).
_SEP = rf"(?:[ \t]+|[ \t]*\r?\n{_LINE_PREFIX}[ \t]*)"
_END = r"(?:\s*-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----)?"
_KEY_BODY = re.compile(
    rf"(?P<run>(?<![{_B64}=])(?:{_CHUNK}{_SEP}){{2,}}{_CHUNK}"
    rf"(?:{_SEP}[{_B64}]{{1,39}}={{0,2}})?(?![{_B64}=]){_END})"
    rf"|(?P<blob>(?<![{_B64}=])[{_B64}]{{200,}}={{0,2}}(?![{_B64}=]))"
    # Whole lines that are chunks (one is enough: grep picks some lines of a key).
    rf"|^{_LINE_PREFIX}[ \t]*(?P<alone>{_CHUNK}(?:{_SEP}{_CHUNK})*"
    rf"(?:{_SEP}[{_B64}]{{1,39}}={{0,2}})?){_END}[ \t]*\r?$",
    re.MULTILINE,
)
_CREDENTIAL_LINE = re.compile(
    rf"(?P<line>^{_LINE_PREFIX}[ \t]*(?:export[ \t]+)?(?:"
    r"(?i:aws_secret_access_key|aws_session_token)[ \t]*[=:]"
    r"|(?:machine[ \t]+\S+[ \t]+)?(?:login[ \t]+\S+[ \t]+)?password[ \t]+(?![=:])"
    r"|(?i:password|passwd)[ \t]*[=:]"
    r")[ \t]*[\"']?)(?P<value>[^\s\"']+)",
    re.MULTILINE,
)
# Cheap checks that skip a pass when it cannot match (each pass costs ~20 ms a megabyte):
# every base64 character becomes "a", so a run of 40 is one substring search.
_B64_TABLE = {ord(c): "a" for c in string.ascii_letters + string.digits + "+/"}
_B64_RUN = "a" * 40
# What follows ``password =`` in code rather than in a credentials file.
_CODE_VALUE = re.compile(r"[A-Za-z_]\w*(?:\.\w+)+|.*[(\[{$].*")
_SSH_PUBLIC = re.compile(r"(?:ssh-[a-z0-9]+|ecdsa-sha2-[a-z0-9]+|sk-[a-z0-9@.-]+)[ \t]$")


def _mixed(text: str) -> bool:
    """Capitals, small letters and digits: base64 of random bytes, not hex or a word."""
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


def _credential(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.startswith("[REDACTED:") or _CODE_VALUE.fullmatch(value):
        return match.group(0)
    return f"{match.group('line')}[REDACTED:credential]"


def _key_body(match: re.Match[str]) -> str:
    text = match.group(0)
    alone = match.group("alone")
    if not _mixed(alone if alone is not None else text):
        return text
    if alone is not None:  # keep the line's prefix (grep's path and number)
        return text[: match.start("alone") - match.start()] + "[REDACTED:private-key]"
    if match.group("blob") is not None and text.startswith("AAAA"):
        before = match.string[max(0, match.start() - 60) : match.start()]
        if _SSH_PUBLIC.search(before):
            return text
    return "[REDACTED:private-key]"


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
        text = self._pattern.sub(self._replace, text)
        if _B64_RUN in text.translate(_B64_TABLE):
            text = _KEY_BODY.sub(_key_body, text)
        lower = text.lower()
        if "passw" in lower or "aws_se" in lower:
            text = _CREDENTIAL_LINE.sub(_credential, text)
        return text

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
