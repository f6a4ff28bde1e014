"""Hosts of URLs as the HTTP client reads them, and the web_allow_domains patterns."""

from __future__ import annotations

import httpx
import pytest

from mnemocode.config.settings import SafetyConfig
from mnemocode.core.errors import ConfigError
from mnemocode.safety.domains import (
    DEFAULT_WEB_ALLOW_DOMAINS,
    DomainError,
    allow_patterns,
    check_patterns,
    domain_allowed,
    domain_of,
    search_engine,
    session_key,
)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://docs.python.org/3/library/re.html?q=1", "docs.python.org"),
        ("https://Docs.Python.ORG./3/", "docs.python.org"),  # case, trailing dot
        ("http://user:secret@docs.python.org:8443/", "docs.python.org"),  # userinfo, port
        ("https://bücher.de/", "xn--bcher-kva.de"),  # IDNA
        ("https://xn--bcher-kva.de/", "xn--bcher-kva.de"),
        ("http://[::1]:8080/", "::1"),
        ("http://[0:0::1]/", "::1"),  # one spelling per address
        ("http://127.0.0.1/", "127.0.0.1"),
        # The host httpx really contacts, not the one a reader sees first.
        ("http://docs.python.org\\@evil.io/", "evil.io"),
        ("http://docs.python.org@evil.io/", "evil.io"),
        ("http://evil.io#@docs.python.org/", "evil.io"),
        ("http://evil.io?@docs.python.org/", "evil.io"),
    ],
)
def test_the_host_of_a_url(url: str, host: str) -> None:
    assert domain_of(url) == host


@pytest.mark.parametrize("url", ["https://docs.python.org/x", "http://docs.python.org\\@evil.io/"])
def test_the_host_is_the_one_the_client_connects_to(url: str) -> None:
    assert domain_of(url) == httpx.URL(url).host.rstrip(".")


@pytest.mark.parametrize(
    "url",
    [
        "http:///path",  # no host
        "http://docs.python.org%2eevil.io/",  # percent signs are no host name
        "http://exa mple.com/",
        "http://a..b/",
        "http://" + "a" * 64 + ".com/",  # a label over 63 characters
    ],
)
def test_urls_without_a_usable_host_are_errors(url: str) -> None:
    with pytest.raises(DomainError):
        domain_of(url)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("docs.python.org", True),
        ("api.example.com", True),  # *.example.com: a subdomain
        ("a.b.example.com", True),  # at any depth
        ("example.com", False),  # not the domain itself
        ("evil-example.com", False),
        ("example.com.evil.io", False),
        ("docs.python.org.evil.io", False),
        ("python.org", False),
        ("xn--bcher-kva.de", True),  # the pattern was written in Unicode
        ("10.0.0.1", True),  # an IP literal matches only itself
        ("10.0.0.2", False),
        ("1.example.com", True),
    ],
)
def test_patterns(host: str, allowed: bool) -> None:
    patterns = ["docs.python.org", "*.example.com", "Bücher.de.", "10.0.0.1"]
    assert domain_allowed(host, patterns) is allowed


def test_a_star_alone_allows_every_host_and_bad_patterns_match_nothing() -> None:
    assert domain_allowed("anything.example", ["*"])
    assert domain_allowed("192.0.2.1", ["*"])
    assert not domain_allowed("evil.com", ["ev*.com", "*.", ""])
    assert not domain_allowed("1.2.3.4", ["*.2.3.4"])  # wildcards never reach IPs
    assert not domain_allowed("not a host", ["*"])


def test_check_patterns_normalizes_and_names_the_bad_one() -> None:
    assert check_patterns(["Docs.Python.org.", "*.ReadTheDocs.io", "*"]) == (
        "docs.python.org",
        "*.readthedocs.io",
        "*",
    )
    for bad in ["ev*l.com", "*.1.2.3.4", "**.com", "exa mple.com"]:
        with pytest.raises(DomainError, match=r"exa mple|ev\*l|1\.2\.3\.4|\*\*"):
            check_patterns(["ok.com", bad])


def test_the_default_list_is_valid_and_leaves_out_open_publishing_hosts() -> None:
    assert check_patterns(DEFAULT_WEB_ALLOW_DOMAINS) == DEFAULT_WEB_ALLOW_DOMAINS
    assert allow_patterns(SafetyConfig().web_allow_domains) == DEFAULT_WEB_ALLOW_DOMAINS
    for host in [
        "raw.githubusercontent.com",
        "gist.github.com",
        "github.com",
        "attacker.github.io",
        "attacker.readthedocs.io",
        "pastebin.com",
    ]:
        assert not domain_allowed(host, DEFAULT_WEB_ALLOW_DOMAINS), host
    assert domain_allowed(domain_of("https://docs.python.org/3/"), DEFAULT_WEB_ALLOW_DOMAINS)


def test_session_keys_name_the_host_and_the_search_engine() -> None:
    assert session_key("web_fetch", "docs.python.org") == "web_fetch:domain:docs.python.org"
    assert session_key("web_search", search_engine("duckduckgo")) == (
        "web_search:domain:duckduckgo"
    )
    assert search_engine("searxng:https://Search.Example.org:8888/") == "search.example.org"


def test_the_configured_list_replaces_the_default_and_is_checked() -> None:
    config = SafetyConfig(web_allow_domains=["Docs.Internal.example", "*.corp.example"])
    assert allow_patterns(config.web_allow_domains) == ("docs.internal.example", "*.corp.example")
    assert allow_patterns(SafetyConfig(web_allow_domains=[]).web_allow_domains) == ()
    with pytest.raises(ConfigError, match=r"safety\.web_allow_domains"):
        allow_patterns(["docs.*.example"])
