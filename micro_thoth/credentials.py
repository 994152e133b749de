"""Index credentials per host, held before (and without) any HTTP client: ``IndexAuth`` and the deferred client.

A run learns credentials from its index URLs (``https://user:token@host/simple/``) long
before it may need a connection; a warm lock needs none at all. So what holds them,
and the stand-in for the run's client that carries them (``deferred_client``), import
no HTTP library: ``net.py`` builds the httpx client, and adapts ``IndexAuth`` to it,
on the first request.

Hosts are named as httpx names them (``host_name``), and keyed without the scheme's default
port (``https://host:443/`` and ``https://host/`` are one host).
"""

from __future__ import annotations

import netrc
import os
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Optional, cast

from micro_thoth.models import strip_credentials

if TYPE_CHECKING:
    import httpx

Credentials = tuple[str, str]
DEFAULT_PORTS = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}  # httpx's


def host_name(url: str) -> str:
    """``url``'s host as httpx names it: lowercased; IDNA-encoded when not ASCII, decoded back
    when the encoded name starts with ``xn--``."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host.isascii() and not host.startswith("xn--"):
        return host
    import idna  # imported here: only an internationalised host name needs it (httpx's own IDNA codec)

    encoded = host if host.isascii() else idna.encode(host).decode("ascii")
    return str(idna.decode(encoded)) if encoded.startswith("xn--") else encoded


def host_key(url: str) -> str:
    """``host`` or ``host:port`` of ``url`` (the scheme's default port dropped), as credentials are kept by."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number: the URL fails where it is requested
        port = None
    host = host_name(url)
    return f"{host}:{port}" if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()) else host


class IndexAuth:
    """Basic auth per host, from registered URLs' userinfo or else netrc (thread-safe).

    ``net.make_client`` sends them (``net.IndexAuthFlow``): known credentials up front, and
    after a 401 the netrc entry once if it differs from what was sent.
    """

    def __init__(self, netrc_path: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> None:
        self._netrc_path = netrc_path
        self._environ = os.environ if environ is None else environ
        self._known: dict[str, Credentials] = {}
        self._netrc: Optional[netrc.netrc] = None
        self._netrc_loaded = False
        self._lock = threading.Lock()

    def register(self, url: str) -> str:
        """Remember the credentials in ``url`` for its host; returns the URL without them."""
        parts = urllib.parse.urlsplit(url)
        stripped = strip_credentials(url)
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            self.remember(stripped, (user, password))
        return stripped

    def remember(self, url: str, credentials: Credentials) -> None:
        """Use ``credentials`` for ``url``'s host from now on."""
        with self._lock:
            self._known[host_key(url)] = credentials

    def credentials_for(self, url: str) -> Optional[Credentials]:
        """Registered credentials for the URL's host, else its netrc entry, else None."""
        with self._lock:
            known = self._known.get(host_key(url))
        return known if known is not None else self.from_netrc(url)

    def from_netrc(self, url: str) -> Optional[Credentials]:
        """The netrc entry of ``url``'s host (``NETRC``, else ``~/.netrc``), if any."""
        parsed = self._load_netrc()
        host = host_name(url)
        if parsed is None or not host:
            return None
        entry = parsed.authenticators(host)
        if not entry:
            return None
        login, _account, password = entry
        return (login or "", password or "")

    def _load_netrc(self) -> Optional[netrc.netrc]:
        with self._lock:
            if not self._netrc_loaded:
                self._netrc_loaded = True
                self._netrc = _read_netrc(self._netrc_path or _default_netrc(self._environ))
            return self._netrc


def _default_netrc(environ: Mapping[str, str]) -> str:
    if environ.get("NETRC"):
        return environ["NETRC"]
    return os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".netrc")


def _read_netrc(path: str) -> Optional[netrc.netrc]:
    """The parsed netrc file, or None when it is missing or unreadable (as pip and curl do)."""
    if not os.path.isfile(path):
        return None
    try:
        return netrc.netrc(path)
    except (netrc.NetrcParseError, OSError):
        return None


class _Deferred:
    """Stands for an httpx.Client made by ``make`` when first used (``deferred_client``); its
    ``auth`` is known before, so registering an index's credentials makes no client. ``make`` is
    called once, under a lock the first readers share; later reads take no lock."""

    def __init__(self, make: Callable[[], httpx.Client], auth: IndexAuth) -> None:
        self._make = make
        self._made: Optional[httpx.Client] = None
        self._lock = threading.Lock()
        self.auth = auth

    def __getattr__(self, name: str) -> Any:
        made = self._made
        if made is None:
            with self._lock:  # prefetch threads' first requests race for it: one client
                if self._made is None:
                    self._made = self._make()
                made = self._made
        return getattr(made, name)


def deferred_client(make: Callable[[], httpx.Client], auth: IndexAuth) -> httpx.Client:
    """The run's client, made (httpx, SSL context, CA bundle, httpcore) on the first request: a warm
    lock whose pages are fresh and whose metadata is stored asks nothing of the network.
    ``auth`` is the one ``make`` gives the client."""
    return cast("httpx.Client", _Deferred(make, auth))


def registry_of(client: Any) -> Optional[IndexAuth]:
    """The ``IndexAuth`` a client (deferred, or made by ``net.make_client``) sends credentials from, if any."""
    auth = getattr(client, "auth", None)
    auth = getattr(auth, "credentials", auth)  # net.IndexAuthFlow: the httpx side of an IndexAuth
    return auth if isinstance(auth, IndexAuth) else None
