"""The shared httpx.Client and how we talk HTTP: pooling, credentials, retries, one error translation.

    auth = IndexAuth()                                    # credentials.py: per-host credentials
    client = make_client(verify=cert_path_or_bool, auth=auth)
    auth.register("https://user:token@index.example/simple/")   # learn a host's credentials
    response = request(client, "GET", url)      # retries, raises IndexUnreachable, returns 404s
    with translate_errors(url):                  # for bodies read later (stream=True)
        for chunk in response.iter_bytes(): ...

Credentials never travel in request URLs (they are stripped before sending, so
they cannot reach logs or exception text); they are sent as a Basic
``Authorization`` header, learnt from a URL's userinfo or from ``~/.netrc``
(``credentials.IndexAuth``, which holds them before any client exists).

A warm lock never imports this module (nor httpx): the run's client is deferred
(``credentials.deferred_client``), and the index imports this module with its first
request, in one place (``index/fetch.request``).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import functools
import importlib.util
import os
import re
import ssl
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Optional, Union

import httpx

from micro_thoth import __version__
from micro_thoth.credentials import Credentials, IndexAuth, registry_of
from micro_thoth.errors import IndexUnreachable
from micro_thoth.models import Source, redact_url, strip_credentials

DEFAULT_USER_AGENT = (
    f"micro-thoth/{__version__} httpx/{httpx.__version__} "
    f"Python/{sys.version_info.major}.{sys.version_info.minor}"
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403, 407})
MAX_RETRY_AFTER = 30.0
TLS_HINT = (
    "give the index's CA bundle (PIP_CERT, `cert` in pip.conf, SSL_CERT_FILE) or, if you trust the network, "
    "mark the host trusted (PIP_TRUSTED_HOST, verify_ssl = false in the Pipfile source)"
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@\s:]*)(?P<password>:[^/@\s]*)?@")

class IndexAuthFlow(httpx.Auth):
    """An ``IndexAuth`` as the client sends it: known credentials up front (as pip does: some
    registries answer 404, not 401); after a 401, the netrc entry once if it differs from what was sent."""

    def __init__(self, credentials: IndexAuth) -> None:
        self.credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.url.userinfo:
            self.credentials.register(str(request.url))
            request.url = request.url.copy_with(username=None, password=None)
        sent = self.credentials.credentials_for(str(request.url))
        response = yield (_with_basic(request, sent) if sent is not None else request)
        if response.status_code != 401:
            return
        fallback = self.credentials.from_netrc(str(request.url))
        if fallback is not None and fallback != sent:
            self.credentials.remember(str(request.url), fallback)
            yield _with_basic(request, fallback)


def _with_basic(request: httpx.Request, credentials: Credentials) -> httpx.Request:
    token = base64.b64encode(":".join(credentials).encode("utf-8")).decode("ascii")
    request.headers["Authorization"] = f"Basic {token}"
    return request


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """The SSLContext of ``verify`` (True: SSL_CERT_FILE / SSL_CERT_DIR, else certifi's bundle; a CA
    bundle path, file or directory), made once per process for the same bundle as long as it is
    unchanged: loading a bundle costs tens of milliseconds, and a long-lived resolver process
    makes a client per job. False passes through."""
    if verify is False:
        return False
    if verify is True:
        key = ("env", os.environ.get("SSL_CERT_FILE") or "", os.environ.get("SSL_CERT_DIR") or "")
    else:
        key = ("path", verify, "")
    return _context_for(*key, _stamp(key[1] or key[2]))


def _stamp(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path) if path else None
    except OSError:
        stat = None
    return (stat.st_mtime_ns, stat.st_size) if stat is not None else (0, 0)


@functools.lru_cache(maxsize=8)
def _context_for(kind: str, first: str, second: str, stamp: tuple[int, int]) -> ssl.SSLContext:
    if kind == "env":
        return httpx.create_ssl_context(verify=True, trust_env=True)
    if os.path.isdir(first):
        return ssl.create_default_context(capath=first)
    return ssl.create_default_context(cafile=first)


HTTP2 = importlib.util.find_spec("h2") is not None  # httpx speaks HTTP/2 only with h2 installed


def make_client(
    *,
    timeout: float = 15.0,
    max_connections: int = 16,
    verify: bool | str = True,
    user_agent: str = DEFAULT_USER_AGENT,
    auth: Optional[IndexAuth] = None,
    trusted_hosts: Iterable[str] = (),
) -> httpx.Client:
    """The one keep-alive client of a run (thread-safe; proxies and SSL_CERT_FILE from env).

    HTTP/2 (every request to a host multiplexed on one connection) when the optional
    ``h2`` package is installed (``pip install 'httpx[http2]'``), else HTTP/1.1 over a
    pool of ``max_connections`` kept-alive connections.

    ``trusted_hosts`` (``host`` or ``host:port``, pip's ``--trusted-host``, a source's
    ``verify_ssl = false``) are reached over HTTPS without certificate verification.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        limits=limits,
        http2=HTTP2,
        verify=_ssl_context(verify),
        follow_redirects=True,
        trust_env=True,
        headers={"User-Agent": user_agent},
        auth=IndexAuthFlow(auth if auth is not None else IndexAuth()),
        mounts={f"https://{host}": _insecure_transport(host, limits) for host in trusted_hosts if host},
    )


def _insecure_transport(host: str, limits: httpx.Limits) -> httpx.HTTPTransport:
    """A transport that skips certificate checks, through the environment's proxy if one applies."""
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    proxy = urllib.request.getproxies_environment().get("https")
    if proxy and urllib.request.proxy_bypass(hostname):
        proxy = None
    return httpx.HTTPTransport(verify=False, limits=limits, proxy=proxy, http2=HTTP2)


def trusted_hosts_of(sources: Iterable[Source], environ: Optional[Mapping[str, str]] = None) -> tuple[str, ...]:
    """``host[:port]`` of every source with ``verify_ssl = false`` (URLs expanded, credentials dropped)."""
    hosts = []
    for source in sources:
        if not source.verify_ssl:
            parts = urllib.parse.urlsplit(strip_credentials(source.expanded_url(environ)))
            hosts.append(parts.netloc)
    return tuple(dict.fromkeys(h for h in hosts if h))


def scrub(text: str) -> str:
    """``text`` with every URL password (or lone token) replaced by ``****``, as redact_url does."""
    return _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:****@" if m["password"] else f"{m['scheme']}****@", text
    )


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return scrub(f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text)


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn httpx failures inside the block into IndexUnreachable naming the redacted URL."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError) as exc:
        raise IndexUnreachable(redact_url(url), _reason(exc)) from exc


def retry_delay(response: Optional[httpx.Response], attempt: int, backoff: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Retry-After if sent (capped), else exponential."""
    header = (response.headers.get("Retry-After") or "").strip() if response is not None else ""
    if header.isdigit():
        return min(float(header), MAX_RETRY_AFTER)
    when = _http_date(header) if header else None
    if when is not None:
        return min(max(0.0, when - time.time()), MAX_RETRY_AFTER)
    return float(backoff * (2**attempt))


def _http_date(text: str) -> Optional[float]:
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _tls_failure(exc: BaseException) -> bool:
    """Whether a transport error comes from TLS (a bad certificate is not worth a retry)."""
    seen: Optional[BaseException] = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _register(client: httpx.Client, url: str) -> str:
    credentials = registry_of(client)
    return credentials.register(url) if credentials is not None else url


Wait = Callable[[Union[httpx.Response, httpx.HTTPError], int], Optional[float]]


def send_with_retries(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    retries: int,
    wait: Wait,
    sleep: Optional[Callable[[float], None]] = None,
    headers: Optional[Mapping[str, str]] = None,
    stream: bool = False,
    read: Optional[Callable[[httpx.Response], object]] = None,
    first: Optional[httpx.Response] = None,
    **body: Any,
) -> httpx.Response:
    """The one request-with-retries: send, and while ``wait(response or error, attempt)`` names a pause, retry.

    ``wait`` returns the seconds to pause before the next attempt, or None to stop
    there; after ``retries`` retries the last answer is returned (or its error raised).
    ``read`` consumes the body of the answer kept (``stream=True``) inside the same
    attempts: a connection lost mid-body is retried like one lost before the answer
    (``read`` starts over each time). ``first`` is an answer already in hand for the
    first attempt (a range request answered with the whole file).
    """
    pause = sleep or time.sleep
    for attempt in range(retries + 1):
        try:
            response = first if attempt == 0 and first is not None else client.send(
                client.build_request(method, url, headers=dict(headers or {}), **body), stream=stream
            )
            delay = wait(response, attempt) if attempt < retries else None
            if delay is None:
                if read is not None:
                    _read(response, read)
                return response
            response.close()
        except httpx.HTTPError as exc:
            delay = wait(exc, attempt) if attempt < retries else None
            if delay is None:
                raise
        pause(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _read(response: httpx.Response, read: Callable[[httpx.Response], object]) -> None:
    try:
        read(response)
    except BaseException:
        response.close()
        raise


def _index_wait(backoff: float) -> Wait:
    """An index's retry rule: transport errors (not TLS) and 5xx/429, with Retry-After or exponential backoff."""

    def wait(outcome: Union[httpx.Response, httpx.HTTPError], attempt: int) -> Optional[float]:
        if isinstance(outcome, httpx.Response):
            return retry_delay(outcome, attempt, backoff) if outcome.status_code in RETRY_STATUSES else None
        if not isinstance(outcome, httpx.TransportError) or _tls_failure(outcome) or isinstance(outcome, httpx.UnsupportedProtocol):
            return None
        return retry_delay(None, attempt, backoff)

    return wait


def _refused(response: httpx.Response, url: str) -> IndexUnreachable:
    status = response.status_code
    hint = None
    if status in (401, 407):
        hint = "give credentials in the source URL (${VAR} expansion works) or in ~/.netrc"
    return IndexUnreachable(redact_url(url), f"HTTP {status} {response.reason_phrase}".strip(), hint=hint)


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    retries: int = 3,
    backoff: float = 0.25,
    stream: bool = False,
    read: Optional[Callable[[httpx.Response], object]] = None,
    first: Optional[httpx.Response] = None,
) -> httpx.Response:
    """Send one request, retrying network errors and 5xx/429 with backoff.

    Returns every other response (2xx, 3xx, 404, 416 ...): the caller decides
    what a missing page means. Raises IndexUnreachable (redacted URL) for
    network failures and for 401/403/407 and 5xx/429 once retries are spent.
    ``read`` and ``first``: as ``send_with_retries`` (``read`` never sees a refusal).
    """
    safe_url = _register(client, url)
    reader = None if read is None else (lambda response: None if _refusal(response) else read(response))
    try:
        response = send_with_retries(
            client, method, safe_url, retries=retries, wait=_index_wait(backoff), headers=headers, stream=stream,
            read=reader, first=first,
        )
    except httpx.TransportError as exc:
        raise IndexUnreachable(redact_url(url), _reason(exc), hint=TLS_HINT if _tls_failure(exc) else None) from exc
    except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError) as exc:
        raise IndexUnreachable(redact_url(url), _reason(exc)) from exc
    if _refusal(response):
        response.close()
        raise _refused(response, url)
    return response


def _refusal(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES or response.status_code in REFUSED_STATUSES


def fetch_file(url: str, destination: Path, *, client: Optional[httpx.Client] = None) -> None:
    """GET ``url`` (with retries) into ``destination``; IndexUnreachable names the redacted URL on failure."""
    own = client is None
    client = client or make_client(timeout=60.0)
    try:
        response = request(client, "GET", url, stream=True)
        try:
            if response.status_code != 200:
                raise IndexUnreachable(redact_url(url), f"HTTP {response.status_code} {response.reason_phrase}".strip())
            with open(destination, "wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
        except httpx.HTTPError as exc:
            raise IndexUnreachable(redact_url(url), _reason(exc)) from exc
        finally:
            response.close()
    finally:
        if own:
            client.close()
