"""Fetching a URL a user typed, safely: only http(s), never an internal address, bounded.

Every hop of a redirect chain is checked before it is requested: the scheme, then every address
the host name resolves to must be public (not private, loopback, link-local, multicast or
reserved) unless `allow_private`. The connection then goes to the address that was checked (the
name is sent as Host and TLS server name), so a DNS answer that changes between the check and
the request cannot lead inside. The body is streamed and cut off at `max_bytes` after
decompression (urllib3 >= 2.6 inflates at most what is read, so a gzip bomb costs no memory),
and the whole exchange has a deadline.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

USER_AGENT = "newsbot/0.1 (feed reader; +https://github.com/newsbot)"
MAX_BYTES = 5_000_000  # a feed or a news page is well below this
MAX_REDIRECTS = 5
CHUNK = 16_384
MAX_POOLS = 32  # hosts whose connections are kept open between requests


class FetchError(Exception):
    """A fetch that failed; the message is the reason a person reads."""


class RefusedAddressError(FetchError):
    """The URL leads to an address newsbot must not fetch (scheme, private range)."""


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified; `body` empty)
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the guard's one look-up; tests replace it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve host {host!r}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass
class Fetcher:
    """GETs with the guard, redirects followed hop by hop, conditional requests, a size cap.

    One `Fetcher` keeps connections open per (address, host) between requests, so a round over
    a hundred feeds on one server costs one connection, not a hundred.
    """

    allow_private: bool = False
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # seconds for the whole exchange, redirects and body included
    user_agent: str = USER_AGENT
    ca_certs: str | None = None  # a CA bundle file; None: the system's trusted certificates
    _pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = field(
        default_factory=dict, repr=False
    )

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> Response:
        """The response to GET `url` (200 or 304); raises `FetchError` with the reason."""
        started = time.monotonic()
        seen = [url]
        for _ in range(self.max_redirects + 1):
            headers = {"User-Agent": self.user_agent, "Accept": accept}
            headers["Accept-Encoding"] = "gzip, deflate"
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response = self._request(url, headers, started)
            status = response.status
            if status in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                response.release_conn()
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a Location from {url}")
                url = urljoin(url, location.strip())
                if url in seen:
                    raise FetchError(f"redirect loop: {' -> '.join([*seen, url])}")
                seen.append(url)
                continue
            headers_out = {k.lower(): v for k, v in response.headers.items()}
            if status == 304:
                response.release_conn()
                return Response(url, 304, headers_out, b"")
            if status != 200:
                response.drain_conn()
                response.release_conn()
                raise FetchError(f"HTTP {status} {_reason(status)} from {url}")
            body = self._read(response, url, started)
            return Response(url, 200, headers_out, body)
        raise FetchError(f"more than {self.max_redirects} redirects: {' -> '.join(seen)}")

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------

    def check(self, url: str) -> tuple[str, str, int, list[str]]:
        """(scheme, host, port, the checked addresses to connect to) for `url`, or
        `RefusedAddressError`."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise RefusedAddressError(f"only http and https URLs are fetched, not {url!r}")
        host = parts.hostname
        if not host:
            raise RefusedAddressError(f"no host in {url!r}")
        if parts.username or parts.password:
            raise RefusedAddressError("URLs with a user name or password are not fetched")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise RefusedAddressError(f"bad port in {url!r}") from None
        addresses = [host] if _is_ip(host) else resolve(host, port)
        if not addresses:
            raise FetchError(f"host {host!r} has no address")
        if not self.allow_private:
            inside = [a for a in addresses if not is_public(a)]
            if inside:
                via = "" if _is_ip(host) else f" ({host} resolves to {inside[0]})"
                raise RefusedAddressError(
                    f"refused: {url} leads to a private, loopback or reserved address{via}; "
                    "set NEWSBOT_FEED_ALLOW_PRIVATE=1 to allow it"
                )
        return scheme, host, port, addresses

    def _request(
        self, url: str, headers: dict[str, str], started: float
    ) -> urllib3.BaseHTTPResponse:
        scheme, host, port, addresses = self.check(url)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        default_port = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        headers["Host"] = name if port == default_port else f"{name}:{port}"
        for number, address in enumerate(addresses, 1):
            remaining = self.deadline - (time.monotonic() - started)
            if remaining <= 0:
                raise FetchError(f"timed out after {self.deadline:.0f} s: {url}")
            timeout = urllib3.Timeout(
                connect=min(self.connect_timeout, remaining),
                read=min(self.read_timeout, remaining),
            )
            try:
                return self._pool(scheme, address, port, host).urlopen(
                    "GET",
                    target,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=True,
                    timeout=timeout,
                    assert_same_host=False,
                )
            except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError too
                if number == len(addresses):
                    raise FetchError(f"cannot connect to {host}:{port}: {_cause(exc)}") from None
            except urllib3.exceptions.TimeoutError:
                raise FetchError(f"timed out: {url}") from None
            except urllib3.exceptions.SSLError as exc:
                raise FetchError(f"TLS error with {host}: {_cause(exc)}") from None
            except (Urllib3Error, OSError) as exc:
                raise FetchError(f"cannot fetch {url}: {_cause(exc)}") from None
        raise FetchError(f"cannot connect to {host}:{port}")  # not reached: no addresses

    def _pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        """A kept-alive connection pool per (address, host); the least recently used are
        closed beyond `MAX_POOLS`, so pages on many sites do not pile up connections."""
        key = (scheme, address, port, host)
        pool = self._pools.pop(key, None)
        if pool is not None:
            self._pools[key] = pool  # most recently used last
            return pool
        while len(self._pools) >= MAX_POOLS:
            oldest = next(iter(self._pools))
            self._pools.pop(oldest).close()
        if pool is None:
            if scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    port,
                    server_hostname=host,
                    assert_hostname=host,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=self.ca_certs,
                    maxsize=2,
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, port, maxsize=2)
            self._pools[key] = pool
        return pool

    def _read(self, response: urllib3.BaseHTTPResponse, url: str, started: float) -> bytes:
        declared = response.headers.get("content-length") or ""
        plain = response.headers.get("content-encoding") in (None, "identity")
        if plain and declared.isdigit() and int(declared) > self.max_bytes:
            response.release_conn()
            raise FetchError(
                f"response too large ({int(declared):,} bytes; limit {self.max_bytes:,}): {url}"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = response.read(CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(
                        f"response too large (over {self.max_bytes:,} bytes"
                        f"{' decompressed' if response.headers.get('content-encoding') else ''}"
                        f"): {url}"
                    )
                if time.monotonic() - started > self.deadline:
                    raise FetchError(f"timed out after {self.deadline:.0f} s: {url}")
                chunks.append(chunk)
        except FetchError:
            response.close()  # the rest is never read: this connection cannot be reused
            raise
        except urllib3.exceptions.TimeoutError:
            response.close()
            raise FetchError(f"timed out reading {url}") from None
        except urllib3.exceptions.DecodeError as exc:
            response.close()
            raise FetchError(f"bad compressed body from {url}: {_cause(exc)}") from None
        except (Urllib3Error, OSError) as exc:
            response.close()
            raise FetchError(f"connection broken reading {url}: {_cause(exc)}") from None
        response.release_conn()
        return b"".join(chunks)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def _cause(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
