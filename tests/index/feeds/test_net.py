"""Fetching for feeds: the address guard (direct, redirect, DNS), caps, timeouts, loops."""

from __future__ import annotations

import gzip
import time

import pytest
from werkzeug import Request, Response

from index.feeds import net
from index.feeds.net import Fetcher, FetchError, RefusedAddressError, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata endpoint
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.69", "2001:4860:4860::8888"])
def test_public_addresses_are_public(address):
    assert is_public(address)


def test_the_default_refuses_the_local_test_server(httpserver):
    httpserver.expect_request("/feed").respond_with_data("<rss/>")
    with pytest.raises(RefusedAddressError, match=r"NEWSBOT_FEED_ALLOW_PRIVATE=1"):
        Fetcher().get(httpserver.url_for("/feed"))
    assert not httpserver.log  # refused before any connection


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/feed", "gopher://x/", "http://user:pw@x.org/"]
)
def test_only_http_and_https_without_credentials(url):
    with pytest.raises(RefusedAddressError):
        Fetcher(allow_private=True).get(url)


def test_a_dns_name_resolving_to_loopback_is_refused(monkeypatch):
    looked_up = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["93.184.215.14", "127.0.0.1"]  # one inside is enough to refuse

    monkeypatch.setattr(net, "resolve", resolve)
    with pytest.raises(RefusedAddressError, match=r"resolves to 127.0.0.1"):
        Fetcher().get("http://news.example.org/feed.xml")
    assert looked_up == ["news.example.org"]


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/admin", "http://[::1]/"]
)
def test_a_redirect_to_an_internal_address_is_refused(httpserver, monkeypatch, target):
    # the test server stands for a public one; everything else keeps the real rule
    monkeypatch.setattr(net, "is_public", lambda a: a == "127.0.0.1")
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": target}
    )
    with pytest.raises(RefusedAddressError, match=r"private, loopback or reserved"):
        Fetcher().get(httpserver.url_for("/feed"))


def test_a_redirect_through_a_name_resolving_inside_is_refused(httpserver, monkeypatch):
    monkeypatch.setattr(net, "is_public", lambda a: a == "127.0.0.1")
    monkeypatch.setattr(
        net, "resolve", lambda host, port: ["127.0.0.1" if host == "localhost" else "192.168.0.10"]
    )
    httpserver.expect_request("/feed").respond_with_data(
        "", status=301, headers={"Location": "http://intranet.example/feed"}
    )
    with pytest.raises(RefusedAddressError, match=r"intranet.example resolves to 192.168.0.10"):
        Fetcher().get(httpserver.url_for("/feed"))


def test_the_connection_goes_to_the_checked_address(httpserver, monkeypatch):
    """A name is resolved once, by the guard; the request goes to that address with the name
    as Host, so a second, different DNS answer cannot lead elsewhere."""
    calls = []

    def resolve(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(net, "resolve", resolve)
    httpserver.expect_request("/feed").respond_with_data("ok")
    response = Fetcher(allow_private=True).get(f"http://feeds.example:{httpserver.port}/feed")
    assert response.body == b"ok" and calls == ["feeds.example"]
    assert httpserver.log[0][0].headers["Host"] == f"feeds.example:{httpserver.port}"


def test_redirects_are_followed_hop_by_hop(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=307, headers={"Location": "/c"})
    httpserver.expect_request("/c").respond_with_data("here")
    response = Fetcher(allow_private=True).get(httpserver.url_for("/a"))
    assert response.body == b"here" and response.url == httpserver.url_for("/c")


def test_a_redirect_loop_is_reported(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="redirect loop"):
        Fetcher(allow_private=True).get(httpserver.url_for("/a"))


def test_too_many_redirects_are_reported(httpserver):
    for n in range(10):
        httpserver.expect_request(f"/r{n}").respond_with_data(
            "", status=302, headers={"Location": f"/r{n + 1}"}
        )
    with pytest.raises(FetchError, match="more than 3 redirects"):
        Fetcher(allow_private=True, max_redirects=3).get(httpserver.url_for("/r0"))


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_http_errors_name_the_status(httpserver, status):
    httpserver.expect_request("/feed").respond_with_data("no", status=status)
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        Fetcher(allow_private=True).get(httpserver.url_for("/feed"))


def test_an_unreachable_host_is_reported():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="cannot connect"):
        Fetcher(allow_private=True).get(f"http://127.0.0.1:{port}/feed")


def test_an_unknown_host_is_reported(monkeypatch):
    import socket

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(FetchError, match=r"cannot resolve host 'nowhere.invalid'"):
        Fetcher().get("http://nowhere.invalid/feed")


def test_a_slow_server_times_out(httpserver):
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(FetchError, match="timed out"):
        Fetcher(allow_private=True, read_timeout=0.3).get(httpserver.url_for("/slow"))


def test_a_response_over_the_cap_is_cut_off_while_streaming(httpserver):
    def endless(request: Request) -> Response:
        def chunks():
            for _ in range(1000):
                yield b"x" * 10_000

        return Response(chunks(), content_type="application/rss+xml")  # chunked, no length

    httpserver.expect_request("/big").respond_with_handler(endless)
    with pytest.raises(FetchError, match="too large"):
        Fetcher(allow_private=True, max_bytes=100_000).get(httpserver.url_for("/big"))


def test_a_declared_length_over_the_cap_is_refused_before_reading(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 200_000)
    with pytest.raises(FetchError, match="200,000 bytes; limit 100,000"):
        Fetcher(allow_private=True, max_bytes=100_000).get(httpserver.url_for("/big"))


def test_a_compressed_bomb_is_cut_off_after_decompression(httpserver):
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 kB on the wire
    assert len(bomb) < 100_000
    httpserver.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip"}, content_type="application/rss+xml"
    )
    with pytest.raises(FetchError, match=r"too large.*decompressed"):
        Fetcher(allow_private=True, max_bytes=1_000_000).get(httpserver.url_for("/bomb"))


def test_gzip_bodies_are_decompressed(httpserver):
    httpserver.expect_request("/z").respond_with_data(
        gzip.compress(b"hello"), headers={"Content-Encoding": "gzip"}
    )
    assert Fetcher(allow_private=True).get(httpserver.url_for("/z")).body == b"hello"


def test_conditional_get_sends_the_validators_and_returns_304(httpserver):
    httpserver.expect_request(
        "/feed",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Sun, 06 Dec 2026 10:00:00 GMT"},
    ).respond_with_data("", status=304)
    response = Fetcher(allow_private=True).get(
        httpserver.url_for("/feed"), etag='"v1"', last_modified="Sun, 06 Dec 2026 10:00:00 GMT"
    )
    assert response.status == 304 and response.body == b""
    assert httpserver.log[0][0].headers["User-Agent"].startswith("newsbot/")


@pytest.fixture(scope="module")
def tls_server():
    """An HTTPS server on 127.0.0.1 whose certificate names `feeds.example`, from a throw-away
    CA; (server, CA bundle path)."""
    import ssl
    import tempfile

    import trustme
    from pytest_httpserver import HTTPServer

    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("feeds.example").configure_cert(context)
    server = HTTPServer(host="127.0.0.1", ssl_context=context)
    server.start()
    with tempfile.TemporaryDirectory() as folder:
        bundle = f"{folder}/ca.pem"
        authority.cert_pem.write_to_path(bundle)
        yield server, bundle
    server.clear()
    server.stop()


def test_https_goes_to_the_checked_address_and_verifies_the_name(tls_server, monkeypatch):
    server, bundle = tls_server
    monkeypatch.setattr(net, "resolve", lambda host, port: ["127.0.0.1"])
    server.expect_request("/feed").respond_with_data("secure")
    fetcher = Fetcher(allow_private=True, ca_certs=bundle)
    response = fetcher.get(f"https://feeds.example:{server.port}/feed")
    assert response.body == b"secure"
    with pytest.raises(FetchError, match=r"TLS error with other\.example"):
        fetcher.get(f"https://other.example:{server.port}/feed")  # the certificate's name differs
    with pytest.raises(FetchError, match="TLS error"):
        Fetcher(allow_private=True).get(f"https://feeds.example:{server.port}/feed")  # unknown CA
