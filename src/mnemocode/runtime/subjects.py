"""Subjects, patterns and keys, shared by every backend.

Subjects are dot-separated, non-empty tokens without whitespace (``session.42.events``).
Patterns add two wildcards, as in NATS: ``*`` stands for exactly one token, ``>`` (only
as the last token) for one or more trailing tokens.

Keys may be any non-empty string. A backend whose keys are restricted (NATS KV allows
``[-/_=.A-Za-z0-9]``, no leading, trailing or doubled dots) stores ``encode_key(key)``:
ASCII letters, digits and ``-`` are kept; every other character becomes ``_`` followed
by the two upper-case hex digits of each of its UTF-8 bytes (``:`` → ``_3A``, ``_`` →
``_5F``, ``é`` → ``_C3_A9``). The result is one token of ``[A-Za-z0-9_-]``, readable
for plain keys, and reversible. Encoding is done character by character, so a prefix
of a key encodes to a prefix of its encoding: ``keys(prefix)`` and prefix watches can
match on the encoded form.
"""

from __future__ import annotations

import re

from mnemocode.runtime.protocols import BackendError

_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_ESCAPED = re.compile(r"(?:_[0-9A-F]{2})+")
_ENCODED = re.compile(r"^(?:[A-Za-z0-9-]|_[0-9A-F]{2})+$")
_WHITESPACE = re.compile(r"\s")


class SubjectError(BackendError, ValueError):
    """A subject, pattern or key that the runtime cannot use."""


def validate_subject(subject: str) -> str:
    """Return ``subject`` if it is a publishable subject (no wildcards)."""
    for token in _tokens(subject, "subject"):
        if token in ("*", ">"):
            raise SubjectError(f"subject {subject!r}: wildcards belong in patterns")
    return subject


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a valid subscription pattern."""
    tokens = _tokens(pattern, "pattern")
    if ">" in tokens[:-1]:
        raise SubjectError(f"pattern {pattern!r}: '>' may only be the last token")
    return pattern


def matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` is matched by ``pattern`` (NATS rules)."""
    wanted = pattern.split(".")
    given = subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(given) > index
        if index >= len(given) or (token != "*" and token != given[index]):
            return False
    return len(given) == len(wanted)


def literal_prefix(pattern: str) -> str:
    """The subject text every match starts with (up to the first wildcard)."""
    prefix: list[str] = []
    for token in pattern.split("."):
        if token in ("*", ">"):
            return ".".join(prefix) + "." if prefix else ""
        prefix.append(token)
    return pattern


def encode_key(key: str) -> str:
    """``key`` as one token of ``[A-Za-z0-9_-]`` (see the module docstring)."""
    if not key:
        raise SubjectError("keys must not be empty")
    return "".join(
        char
        if char in _KEPT
        else "".join(f"_{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in key
    )


def encode_key_prefix(prefix: str) -> str:
    """The encoded form every key starting with ``prefix`` starts with ("" for all)."""
    return encode_key(prefix) if prefix else ""


def decode_key(encoded: str) -> str:
    """The key ``encode_key`` turned into ``encoded``."""
    if not _ENCODED.match(encoded):
        raise SubjectError(f"{encoded!r} is not an encoded key")
    try:
        return _ESCAPED.sub(_unescape, encoded)
    except UnicodeDecodeError as exc:
        raise SubjectError(f"{encoded!r} is not an encoded key") from exc


def _unescape(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("_", "")).decode("utf-8", "surrogatepass")


def _tokens(text: str, what: str) -> list[str]:
    if not text or _WHITESPACE.search(text):
        raise SubjectError(f"{what} {text!r}: must be non-empty, without whitespace")
    tokens = text.split(".")
    if "" in tokens:
        raise SubjectError(f"{what} {text!r}: empty token")
    for token in tokens:
        if len(token) > 1 and ("*" in token or ">" in token):
            raise SubjectError(f"{what} {text!r}: a wildcard must be a whole token")
    return tokens
