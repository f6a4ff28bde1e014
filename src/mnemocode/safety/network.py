"""Network policy for ``web_fetch``: no server-side request forgery.

A URL is refused (``NetworkPolicyError``, a ``ToolDenied`` whose message starts
"Refused by the network policy") unless its scheme is http or https and *every*
address its host resolves to is public. Refused: loopback, private (10/8,
172.16/12, 192.168/16, fc00::/7, CGNAT 100.64/10), link-local (169.254/16,
fe80::/10), unspecified (0.0.0.0, ::), multicast, reserved and documentation
ranges, and IPv6 forms that embed such an IPv4 address (``::ffff:127.0.0.1``,
NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``). ``allow_private=True`` (the setting
``allow_private_network``) lifts all of that except the cloud metadata endpoints
(169.254.169.254, fd00:ec2::254, 169.254.170.2, 100.100.100.200,
``metadata.google.internal``): those are refused always.

IP literal tricks (``http://2130706433/``, ``http://0x7f.1/``, ``http://127.1/``,
octal parts) are parsed the way ``inet_aton`` and ``getaddrinfo`` read them, so
they are checked as the address the connection would really use.

Two ways to guard a client, both checking every redirect hop:

- ``guarded_transport()`` — recommended. Resolves the host once, checks every
  address, then connects to the checked address itself (the ``Host`` header and
  TLS server name stay the host name). That pins the address: DNS rebinding (a
  name answering a public address to the check and 127.0.0.1 to the connection)
  cannot slip through. Proxies from the environment are not used by a client
  given a transport; a proxy would resolve names itself and make the check moot.
- ``guarded_event_hooks()`` — checks each request URL before it is sent, but the
  connection resolves the name again, so a rebinding DNS server can still race it.

``guarded_transport(allow_host=…)`` also refuses a redirect to a host the predicate
does not allow (the first request's host was approved by the policy), so an open
redirect on an allowed site cannot carry the URL on to another host.
``recording_refusals()`` collects the refusals raised while it is open, for the
caller that needs to record them (the tool itself only returns an error text).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mnemocode.core.errors import NetworkPolicyError, ToolError

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
EventHook = Callable[["httpx.Request"], Awaitable[None]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
CLOUD_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
CLOUD_METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = "a cloud metadata endpoint"
_REFUSALS: contextvars.ContextVar[list[NetworkPolicyError] | None] = contextvars.ContextVar(
    "mnemo_network_refusals", default=None
)


@contextmanager
def recording_refusals() -> Iterator[list[NetworkPolicyError]]:
    """``with recording_refusals() as refused: await tool(...)`` — ``refused`` lists
    every request this module refused meanwhile (in this task and tasks it starts)."""
    found: list[NetworkPolicyError] = []
    token = _REFUSALS.set(found)
    try:
        yield found
    finally:
        _REFUSALS.reset(token)


def _denial(message: str) -> NetworkPolicyError:
    error = NetworkPolicyError(message)
    found = _REFUSALS.get()
    if found is not None:
        found.append(error)
    return error


async def system_resolver(host: str, port: int) -> list[str]:
    """``getaddrinfo`` in the event loop's executor: the addresses a connection uses."""
    import asyncio

    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 literal as ``inet_aton`` reads it: 1-4 parts, decimal, 0x-hex or
    0-octal, the last part filling the remaining bytes (127.1, 2130706433, 0x7f.1)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                values.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part[1:], 8))
            else:
                values.append(int(part, 10) if part.isascii() and part.isdigit() else -1)
        except ValueError:
            return None
    *head, last = values
    if any(not 0 <= v <= 255 for v in head) or not 0 <= last < 256 ** (4 - len(head)):
        return None
    number = last
    for index, value in enumerate(head):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return _loose_ipv4(host)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str | IPAddress) -> str | None:
    """Why connecting to ``address`` is refused by default, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if ip in CLOUD_METADATA_ADDRESSES:
        return _METADATA
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_problem(embedded)
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved or not ip.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


def _refuse(url: str, host: str, why: str, address: IPAddress | None) -> NetworkPolicyError:
    if address is None or host == str(address):
        where = f"{host} is {why}"
    else:
        where = f"{host} resolves to {address}, {why}"
    hint = (
        "never fetched"
        if why == _METADATA
        else "web_fetch does not reach local or private networks "
        "(allow_private_network = true in the config allows it)"
    )
    return _denial(f"not fetching {url}: {where}; {hint}")


async def checked_addresses(
    url: str,
    host: str,
    port: int,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Every address ``host`` resolves to, after checking each; raises ``NetworkPolicyError``
    if one is refused and ``ToolError`` if the name does not resolve."""
    name = host.lower().rstrip(".")
    if name in CLOUD_METADATA_NAMES:
        raise _refuse(url, host, _METADATA, None)
    literal = ip_literal(name)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            answers = await (resolver or system_resolver)(name, port)
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
        except (OSError, UnicodeError) as exc:
            raise ToolError(f"{url}: could not resolve {host}: {exc}") from exc
        except ValueError as exc:
            raise ToolError(f"{url}: {host} resolved to something not an address") from exc
        if not addresses:
            raise ToolError(f"{url}: {host} resolved to no address")
    for address in addresses:
        why = address_problem(address)
        if why is not None and (why == _METADATA or not allow_private):
            raise _refuse(url, host, why, address)
    return addresses


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host as sent on the wire, port) of a URL, read the way httpx reads it."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise _denial(f"not fetching {url!r}: not a valid URL ({exc})") from exc
    scheme = parsed.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        raise _denial(f"not fetching {url}: only http and https, not {shown}")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise _denial(f"not fetching {url}: no host")
    return scheme, host, parsed.port or (443 if scheme == "https" else 80)


async def check_url(
    url: str, *, allow_private: bool = False, resolver: Resolver | None = None
) -> None:
    """Raise ``NetworkPolicyError`` unless ``url`` is http(s) to public addresses only."""
    _, host, port = _split(url)
    await checked_addresses(url, host, port, allow_private=allow_private, resolver=resolver)


def guarded_event_hooks(
    *, allow_private: bool = False, resolver: Resolver | None = None
) -> dict[str, list[EventHook]]:
    """``event_hooks`` for an ``httpx.AsyncClient``: every request, redirects
    included, is checked before it is sent. Does not pin the address."""

    async def check_request(request: httpx.Request) -> None:
        await check_url(str(request.url), allow_private=allow_private, resolver=resolver)

    return {"request": [check_request]}


def guarded_transport(
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    inner: httpx.AsyncBaseTransport | None = None,
    allow_host: Callable[[str], bool] | None = None,
) -> httpx.AsyncBaseTransport:
    """A transport that checks every request (each redirect hop is one) and connects
    to the address it checked. ``inner`` does the HTTP (default: a plain
    ``httpx.AsyncHTTPTransport``); it sees the address in the URL, the name in the
    ``Host`` header and in the ``sni_hostname`` extension (TLS checks the name).
    ``allow_host`` (a host as ``domains.domain_of`` gives it → allowed?): requests
    after the first one (redirects) to another host it does not allow are refused.
    Make one transport per fetch: the first request is the one the policy approved."""
    import httpx

    from mnemocode.safety.domains import DomainError, domain_of

    class GuardedTransport(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner
            self.first_host: str | None = None

        def check_host(self, url: str) -> None:
            if allow_host is None:
                return
            try:
                name = domain_of(url)
            except DomainError as exc:
                raise _denial(f"not fetching {url}: {exc}") from exc
            if self.first_host is None:
                self.first_host = name
            elif name != self.first_host and not allow_host(name):
                raise _denial(
                    f"{self.first_host} redirected to {url}, and {name} is not an allowed "
                    f"domain; fetch {url} itself if you need it (that asks in ask mode)"
                )

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            url = str(request.url)
            _, host, port = _split(url)
            self.check_host(url)
            addresses = await checked_addresses(
                url, host, port, allow_private=allow_private, resolver=resolver
            )
            if host == str(addresses[0]):  # already the address: nothing to pin
                return await self.inner.handle_async_request(request)
            for address in addresses[:-1]:
                try:
                    return await self.inner.handle_async_request(_pinned(request, host, address))
                except httpx.ConnectError:  # try the next address, as a browser would
                    continue
            return await self.inner.handle_async_request(_pinned(request, host, addresses[-1]))

        async def aclose(self) -> None:
            await self.inner.aclose()

    return GuardedTransport(inner if inner is not None else httpx.AsyncHTTPTransport())


def _pinned(request: httpx.Request, host: str, address: IPAddress) -> httpx.Request:
    import httpx

    extensions: dict[str, Any] = dict(request.extensions)
    extensions.setdefault("sni_hostname", host)
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,  # already carries Host: <name>
        stream=request.stream,
        extensions=extensions,
    )
