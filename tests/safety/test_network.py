"""SSRF policy against a local HTTP server — never the internet, never real DNS for
public names: every name is answered by a resolver the test passes in."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mnemocode.core.errors import NetworkPolicyError, ToolDenied, ToolError
from mnemocode.safety.network import (
    address_problem,
    check_url,
    guarded_event_hooks,
    guarded_transport,
    ip_literal,
    recording_refusals,
    system_resolver,
)

PUBLIC = "93.184.216.34"  # documentation-free, public; never connected to


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        port = self.connection.getsockname()[1]
        if self.path == "/to-loopback":
            self._redirect(f"http://127.0.0.1:{port}/secret")
        elif self.path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif self.path == "/same-host":
            self._redirect("/host")
        elif self.path == "/host":
            self._send(f"host={self.headers['Host']}".encode())
        else:
            self._send(b"secret internal data")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def resolver_of(
    table: dict[str, list[str]], calls: list[str] | None = None
) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"no such host in the test table: {host}")
        return table[host]

    return resolve


async def never_called(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"an IP literal must not be resolved by name: {host}")


# ---- addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("100.100.100.200", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "not a public"),
        ("198.18.0.1", "address"),
        ("240.0.0.1", "address"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:a00:1::", "private"),
        ("172.32.0.1", None),
        ("8.8.8.8", None),
        (PUBLIC, None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_problems(address: str, problem: str | None) -> None:
    why = address_problem(address)
    if problem is None:
        assert why is None
    else:
        assert why is not None and problem in why


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("08.1.1.1", None),
        ("\u0661\u0662\u0667.0.0.1", None),  # digits, but not ASCII ones
        ("1.2.3.0x100", None),
    ],
)
def test_ip_literals_are_read_like_inet_aton(host: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address is not None else None
    assert ip_literal(host) == expected


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001"])
async def test_getaddrinfo_reads_the_literals_the_same_way(host: str) -> None:
    # Numeric hosts never reach DNS: glibc parses them with inet_aton.
    assert await system_resolver(host, 80) == ["127.0.0.1"]


# ---- check_url -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://0177.0.0.1:8080/x",
        "http://017700000001/",
        "http://0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "https://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://user:pw@192.168.0.1/",
        "http://evil.example@127.0.0.1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
    ],
)
async def test_private_literals_and_tricks_are_refused(url: str) -> None:
    with pytest.raises(NetworkPolicyError) as caught:
        await check_url(url, resolver=never_called)
    assert str(caught.value).startswith("Refused by the network policy: ")
    assert caught.value.by == "network"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:70/", "javascript:alert(1)"],
)
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(ToolDenied, match="only http and https"):
        await check_url(url, resolver=never_called)


async def test_names_are_checked_after_resolution_on_every_address() -> None:
    resolve = resolver_of(
        {
            "docs.example": [PUBLIC],
            "sneaky.example": ["127.0.0.1"],
            "mixed.example": [PUBLIC, "10.0.0.7"],
            "mapped.example": ["::ffff:192.168.1.10"],
            "cloud.example": ["169.254.169.254"],
        }
    )
    await check_url("https://docs.example/page", resolver=resolve)
    with pytest.raises(ToolDenied, match=r"sneaky\.example resolves to 127\.0\.0\.1, a loopback"):
        await check_url("http://sneaky.example/", resolver=resolve)
    with pytest.raises(ToolDenied, match=r"10\.0\.0\.7, a private address"):
        await check_url("http://mixed.example/", resolver=resolve)
    with pytest.raises(ToolDenied, match="private"):
        await check_url("http://mapped.example/", resolver=resolve)
    with pytest.raises(ToolDenied, match="metadata"):
        await check_url("http://cloud.example/", resolver=resolve)


async def test_allow_private_lifts_all_but_cloud_metadata() -> None:
    resolve = resolver_of({"sneaky.example": ["127.0.0.1"], "cloud.example": ["169.254.169.254"]})
    await check_url("http://127.0.0.1:8000/", allow_private=True, resolver=never_called)
    await check_url("http://sneaky.example/", allow_private=True, resolver=resolve)
    await check_url("http://[fe80::1]/", allow_private=True, resolver=never_called)
    for url in (
        "http://169.254.169.254/",
        "http://cloud.example/",
        "http://metadata.google.internal/",
    ):
        with pytest.raises(ToolDenied, match="never fetched"):
            await check_url(url, allow_private=True, resolver=resolve)


async def test_a_name_that_does_not_resolve_is_an_error_not_a_denial() -> None:
    with pytest.raises(ToolError) as caught:
        await check_url("http://nowhere.example/", resolver=resolver_of({}))
    assert not isinstance(caught.value, ToolDenied)
    with pytest.raises(ToolError, match="no address"):
        await check_url("http://empty.example/", resolver=resolver_of({"empty.example": []}))


# ---- against a real local server -----------------------------------------------------


async def test_loopback_server_refused_by_default_allowed_when_asked(server_port: int) -> None:
    url = f"http://127.0.0.1:{server_port}/data"
    for guard in ("transport", "hooks"):
        for allow in (False, True):
            if guard == "transport":
                client = httpx.AsyncClient(transport=guarded_transport(allow_private=allow))
            else:
                client = httpx.AsyncClient(event_hooks=guarded_event_hooks(allow_private=allow))
            async with client:
                if allow:
                    response = await client.get(url)
                    assert response.text == "secret internal data", guard
                else:
                    with pytest.raises(ToolDenied, match="loopback"):
                        await client.get(url)


async def test_a_public_looking_name_for_loopback_is_refused(server_port: int) -> None:
    resolve = resolver_of({"intranet.example": ["127.0.0.1"]})
    url = f"http://intranet.example:{server_port}/data"
    async with httpx.AsyncClient(transport=guarded_transport(resolver=resolve)) as client:
        with pytest.raises(ToolDenied, match=r"intranet\.example resolves to 127\.0\.0\.1"):
            await client.get(url)
    hooks = guarded_event_hooks(resolver=resolve)
    async with httpx.AsyncClient(event_hooks=hooks) as client:
        with pytest.raises(ToolDenied, match="loopback"):
            await client.get(url)


async def test_event_hooks_check_every_redirect_hop(server_port: int) -> None:
    # The resolver claims "localhost" is public, so the first hop passes the check
    # (the connection itself still reaches the local server through the system's
    # resolver); the redirect to 127.0.0.1 must be caught by the hook.
    calls: list[str] = []
    hooks = guarded_event_hooks(resolver=resolver_of({"localhost": [PUBLIC]}, calls))
    async with httpx.AsyncClient(event_hooks=hooks, follow_redirects=True) as client:
        with pytest.raises(ToolDenied, match=r"127\.0\.0\.1 is a loopback address"):
            await client.get(f"http://localhost:{server_port}/to-loopback")
        with pytest.raises(ToolDenied, match="metadata"):
            await client.get(f"http://localhost:{server_port}/to-metadata")
        response = await client.get(f"http://localhost:{server_port}/same-host")
        assert response.text == f"host=localhost:{server_port}"
        assert len(response.history) == 1
    assert calls == ["localhost"] * 4  # one check per request, redirects included


async def test_transport_connects_to_the_address_it_checked(server_port: int) -> None:
    # "site.test" exists only in the test's resolver: the request can reach the local
    # server only if the transport connects to the address it resolved and checked.
    resolve = resolver_of({"site.test": ["127.0.0.1"]})
    transport = guarded_transport(allow_private=True, resolver=resolve)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        response = await client.get(f"http://site.test:{server_port}/same-host")
    assert response.text == f"host=site.test:{server_port}"  # the name, not the address
    assert str(response.url) == f"http://site.test:{server_port}/host"


async def test_transport_tries_the_next_checked_address(server_port: int) -> None:
    # The server listens on IPv4 only; [::1] is refused (or absent), 127.0.0.1 answers.
    resolve = resolver_of({"dual.test": ["::1", "127.0.0.1"]})
    transport = guarded_transport(allow_private=True, resolver=resolve)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://dual.test:{server_port}/data")
    assert response.text == "secret internal data"


# ---- redirects and rebinding through the pinning transport -------------------------


async def test_transport_checks_every_redirect_hop_and_pins_each() -> None:
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "http://internal.example/admin"})
        if request.url.path == "/hop":
            return httpx.Response(301, headers={"Location": "http://0x7f.1:9/"})
        return httpx.Response(200, text="ok")

    resolve = resolver_of({"docs.example": [PUBLIC], "internal.example": ["10.0.0.8"]})
    transport = guarded_transport(resolver=resolve, inner=httpx.MockTransport(upstream))
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        response = await client.get("https://docs.example/ok")
        assert response.text == "ok"
        with pytest.raises(ToolDenied, match=r"internal\.example resolves to 10\.0\.0\.8"):
            await client.get("https://docs.example/start")
        with pytest.raises(ToolDenied, match="loopback"):
            await client.get("https://docs.example/hop")
    first = seen[0]
    assert first.url.host == PUBLIC  # connected by the checked address ...
    assert first.headers["Host"] == "docs.example"  # ... asking for the name
    assert first.extensions["sni_hostname"] == "docs.example"  # TLS verifies the name
    assert [r.url.path for r in seen] == ["/ok", "/start", "/hop"]  # no refused hop sent


async def test_dns_rebinding_cannot_slip_between_check_and_connect() -> None:
    # A rebinding name answers a public address first and loopback afterwards.
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.host))
        return httpx.Response(302, headers={"Location": "/again"})

    transport = guarded_transport(resolver=rebinding, inner=httpx.MockTransport(upstream))
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(ToolDenied, match=r"127\.0\.0\.1"):
            await client.get("http://rebind.example/")
    assert seen == [PUBLIC]  # the one request sent went to the address that was checked


async def test_transport_refuses_other_schemes_before_sending() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    transport = guarded_transport(resolver=never_called, inner=httpx.MockTransport(upstream))
    with pytest.raises(ToolDenied):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example.com/file"))
    await transport.aclose()


# ---- TLS through the pinning transport ---------------------------------------------


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only ``site.test``."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=site.test"
    command += " -addext subjectAltName=DNS:site.test"
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), str(cert)
    server.shutdown()
    server.server_close()


async def test_tls_verifies_the_name_while_connecting_to_the_address(
    tls_site: tuple[int, str],
) -> None:
    port, cert = tls_site
    trust = ssl.create_default_context(cafile=cert)
    resolve = resolver_of({"site.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    def client() -> httpx.AsyncClient:
        inner = httpx.AsyncHTTPTransport(verify=trust)
        transport = guarded_transport(allow_private=True, resolver=resolve, inner=inner)
        return httpx.AsyncClient(transport=transport)

    async with client() as ok:
        response = await ok.get(f"https://site.test:{port}/host")
        assert response.text == f"host=site.test:{port}"
    # The same address under a name the certificate does not cover fails the TLS check.
    async with client() as wrong:
        with pytest.raises(httpx.ConnectError, match=r"certificate|hostname"):
            await wrong.get(f"https://other.test:{port}/host")


# ---- redirects to other hosts, and refusals recorded for the audit ---------------------


async def test_a_redirect_to_a_host_that_is_not_allowed_is_refused() -> None:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.headers['Host']}{request.url.path}")
        if request.url.path == "/open-redirect":
            location = "https://collector.example/x?data=" + request.url.query.decode()
            return httpx.Response(302, headers={"Location": location})
        if request.url.path == "/moved":
            return httpx.Response(301, headers={"Location": "https://www.docs.example/page"})
        return httpx.Response(200, text="ok")

    names = {"docs.example": [PUBLIC], "www.docs.example": [PUBLIC], "collector.example": [PUBLIC]}

    def transport() -> httpx.AsyncBaseTransport:  # one per fetch, as web_fetch makes them
        return guarded_transport(
            resolver=resolver_of(names),
            inner=httpx.MockTransport(upstream),
            allow_host=lambda host: host.endswith("docs.example"),
        )

    async with httpx.AsyncClient(transport=transport(), follow_redirects=True) as client:
        with pytest.raises(NetworkPolicyError, match=r"collector\.example is not an allowed"):
            await client.get("https://docs.example/open-redirect?k=secret")
    async with httpx.AsyncClient(transport=transport(), follow_redirects=True) as client:
        assert (await client.get("https://docs.example/moved")).text == "ok"
    # The first host is the one the policy approved, whatever the predicate says.
    async with httpx.AsyncClient(transport=transport(), follow_redirects=True) as client:
        assert (await client.get("https://collector.example/plain")).text == "ok"
    assert seen == [
        "docs.example/open-redirect",  # never collector.example with the data
        "docs.example/moved",
        "www.docs.example/page",
        "collector.example/plain",
    ]


async def test_refusals_are_recorded_while_a_recorder_is_open(server_port: int) -> None:
    async with httpx.AsyncClient(transport=guarded_transport()) as client:
        with recording_refusals() as refused, pytest.raises(NetworkPolicyError):
            await client.get(f"http://127.0.0.1:{server_port}/data")
        with pytest.raises(NetworkPolicyError):  # no recorder open: nothing kept
            await client.get(f"http://127.0.0.1:{server_port}/data")
    assert len(refused) == 1 and "loopback" in str(refused[0])


async def test_web_fetch_reports_a_refusal_as_the_network_policy_s(
    server_port: int, tmp_path: Path
) -> None:
    from mnemocode.core.protocols import ToolContext
    from mnemocode.core.types import ToolCall
    from mnemocode.safety.sandbox import LocalSandbox
    from mnemocode.tools.web import web_fetch

    ctx = ToolContext(cwd=tmp_path, sandbox=LocalSandbox(), settings={})
    ctx.http_transport = guarded_transport
    call = ToolCall("1", "web_fetch", {"url": f"http://127.0.0.1:{server_port}/data"})
    with recording_refusals() as refused:
        result = await web_fetch.run(call, ctx)
    assert result.is_error
    assert result.text.startswith("Refused by the network policy: ")
    assert "secret internal data" not in result.text
    assert len(refused) == 1
