"""Which hosts ``web_fetch`` may reach without a question: the host of a URL, read
the way the HTTP client reads it, and host patterns from ``[safety] web_allow_domains``.

- ``domain_of(url)``: the host, lower-case, IDNA-encoded (``bücher.de`` →
  ``xn--bcher-kva.de``), without userinfo, port or trailing dot; IPv6 literals
  without brackets. It is parsed by httpx, the client that makes the request, so
  tricks such as ``http://docs.python.org\\@evil.io/`` name the host that is really
  contacted (``evil.io``). A URL with no host, or a host that is not a DNS name nor
  an IP literal (``%2e``, spaces), raises ``DomainError``.
- ``domain_allowed(host, patterns)``: ``example.com`` matches that host only;
  ``*.example.com`` matches its subdomains at any depth, not ``example.com`` itself,
  not ``evil-example.com``, not ``example.com.evil.io``; ``*`` matches every host.
  IP literals match only a pattern that is the same literal.
- ``session_key(tool, host)``: what an "allow for this session" answer covers —
  that host for that tool (``web_fetch:domain:docs.python.org``), not one URL.

The default list (``DEFAULT_WEB_ALLOW_DOMAINS``) holds documentation hosts run by
one publisher, where nobody else can read the requests. Left out on purpose: hosts
where anyone can publish and see who came (``*.readthedocs.io`` — a project owner
sees its search queries —, ``*.github.io``, ``raw.githubusercontent.com``,
``gist.github.com``, ``github.com`` itself, paste sites): a URL there can carry data
out in its path or query. Add them in the config if you accept that.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from mnemocode.core.errors import ConfigError

DEFAULT_WEB_ALLOW_DOMAINS: tuple[str, ...] = (
    "docs.python.org",
    "peps.python.org",
    "packaging.python.org",
    "pypi.org",
    "developer.mozilla.org",
    "docs.rs",
    "doc.rust-lang.org",
    "pkg.go.dev",
    "go.dev",
    "nodejs.org",
    "www.typescriptlang.org",
    "docs.github.com",
    "git-scm.com",
    "docs.djangoproject.com",
    "docs.pydantic.dev",
    "fastapi.tiangolo.com",
    "numpy.org",
    "pandas.pydata.org",
    "docs.pytest.org",
    "man7.org",
)

# Letters, digits, hyphen and underscore (some real hosts use it) between dots.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class DomainError(ValueError):
    """A URL without a usable host, or a malformed host pattern."""


def _ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def normalize_host(host: str) -> str:
    """A host as ``domain_of`` returns it; raises ``DomainError`` if it is not one."""
    text = host.strip().removeprefix("[").removesuffix("]").rstrip(".").lower()
    literal = _ip(text)
    if literal is not None:
        return literal
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DomainError(f"{host!r} is not a valid host name") from exc
    labels = text.split(".")
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DomainError(f"{host!r} is not a valid host name")
    return text


def domain_of(url: str) -> str:
    """The host ``url`` is fetched from (see the module docstring)."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DomainError(f"{url!r} is not a valid URL ({exc})") from exc
    raw = parsed.raw_host.decode("ascii", "replace")
    if not raw:
        raise DomainError(f"{url!r} has no host")
    return normalize_host(raw)


def normalize_pattern(pattern: str) -> str:
    """``host``, ``*.host`` or ``*``, normalized; raises ``DomainError`` otherwise."""
    text = pattern.strip()
    if text == "*":
        return text
    if text.startswith("*."):
        rest = normalize_host(text[2:])
        if _ip(rest) is not None:
            raise DomainError(f"{pattern!r}: a wildcard cannot stand before an IP address")
        return f"*.{rest}"
    if "*" in text:
        raise DomainError(f"{pattern!r}: only a leading '*.' (or '*' alone) is allowed")
    return normalize_host(text)


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Every pattern normalized; the first bad one raises ``DomainError``."""
    return tuple(normalize_pattern(p) for p in patterns)


def domain_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` (as ``domain_of`` returns it) matches one of ``patterns``.
    A pattern that is not valid matches nothing."""
    try:
        name = normalize_host(host)
    except DomainError:
        return False
    literal = _ip(name) is not None
    for raw in patterns:
        try:
            pattern = normalize_pattern(raw)
        except DomainError:
            continue
        if pattern in ("*", name):
            return True
        if not literal and pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def session_key(tool: str, host: str) -> str:
    """The guard's key for "allow ``tool`` on ``host`` for this session"."""
    return f"{tool}:domain:{host}"


def search_engine(backend: str) -> str:
    """Where ``web_search`` sends the query: the host of a ``searxng:<url>`` backend,
    else the ddgs backend's name (``duckduckgo``, ``ddgs:brave,bing``)."""
    if backend.startswith("searxng:"):
        return domain_of(backend.removeprefix("searxng:"))
    return backend


def allow_patterns(configured: Iterable[str] | None) -> tuple[str, ...]:
    """The patterns in force: ``[safety] web_allow_domains``, or the built-in list when
    it is unset (an empty list allows no host). A bad pattern is a ``ConfigError``."""
    if configured is None:
        return DEFAULT_WEB_ALLOW_DOMAINS
    try:
        return check_patterns(configured)
    except DomainError as exc:
        raise ConfigError(str(exc), key="safety.web_allow_domains") from exc
