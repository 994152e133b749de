"""The services one run shares: cache, HTTP client, knowledge store, index client, sources."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

from packaging.utils import NormalizedName

from .. import pipconf
from ..cache import Cache
from ..credentials import IndexAuth, deferred_client
from ..errors import UsageError
from ..memory import Kept, keeping
from ..models import Source
from ..reporting import Reporter
from ..settings import Settings

if TYPE_CHECKING:  # the resolver's side (guidance, the resolver, the backend): a run that locks imports it (``resolver``)
    from ..guidance.policy import GuidancePolicy
    from ..resolve.resolver import LockPolicy, Resolver
    from .backend import Backend

_STORES: Kept[str, Any] = Kept(4)  # metadata store path -> the open Store, in a resolver process


@dataclass
class Services:
    """Opened once per command, closed at its end (``open_services``)."""

    settings: Settings
    environ: Mapping[str, str]
    cache: Cache
    reporter: Reporter
    _store: Any = None
    _client: Any = None  # httpx.Client, made on first use (a warm install never needs one)
    _client_lock: threading.Lock = field(default_factory=threading.Lock)  # prefetch threads' first requests race for it
    auth: IndexAuth = field(default_factory=IndexAuth)  # the client's; index credentials register here before it exists
    _sources: list[Source] = field(default_factory=list)
    backend: Optional[Backend] = None  # given by the caller; else the configured one (backend.py)
    _resolver: Optional[Resolver] = None
    _store_kept: bool = False  # a resolver process's store, open from one job to the next (memory.py)
    _index_clients: list[Any] = field(default_factory=list)  # closed with the services (their prefetches cancelled)

    @property
    def resolver(self) -> Resolver:
        """The run's resolver, chosen once: the backend's when one is given or configured, else the embedded one."""
        if self._resolver is None:
            # imported here: ≈ 60 ms of guidance, resolver and backend modules that an install of a lock never needs
            from .backend import configured_backend

            backend = self.backend or configured_backend(self.settings, self.environ)
            self._resolver = self._backend_resolver(backend) if backend is not None else self._embedded_resolver()
        return self._resolver

    def _backend_resolver(self, backend: Backend) -> Resolver:
        # imported here: ≈ 7 ms of wire formats that only a run with a backend needs
        from ..resolve.remote import BackendResolver
        from .backend import prescription_texts

        project_dir, environ = self.settings.project_dir, self.environ
        return BackendResolver(
            backend.url, token=backend.token, verify=backend.verify, environ=environ, reporter=self.reporter,
            prescription_texts=lambda paths: prescription_texts(project_dir, environ, paths),
        )

    def _embedded_resolver(self) -> Resolver:
        from ..resolve.embedded import EmbeddedResolver
        from ..resolve.reporter import ProgressLines

        def source_for(sources: Sequence[Source], pinned: Mapping[NormalizedName, str], exclude_newer: Optional[datetime]) -> Any:
            return self.index_client(sources, exclude_newer=exclude_newer, pinned=pinned)

        return EmbeddedResolver(source_for, self._open_policy, ProgressLines(self.reporter))

    def _open_policy(self, policy: LockPolicy, sources: Sequence[Source]) -> AbstractContextManager[GuidancePolicy]:
        from .policy import open_policy

        return open_policy(self.settings, self.environ, policy, sources, self.reporter)

    def use_sources(self, sources: Sequence[Source]) -> None:
        """Sources this run talks to: their ``verify_ssl = false`` hosts become trusted hosts."""
        self._sources.extend(s for s in sources if s not in self._sources)

    @property
    def client(self) -> Any:
        """The run's one HTTP client: pip's CA bundle (PIP_CERT / pip.conf) and trusted hosts."""
        with self._client_lock:  # one client (one pool, one SSL context) however many threads ask first
            if self._client is None:
                # imported here: httpx and the TLS stack, which a warm lock never needs
                from .. import net

                config = pipconf.read_pip_config(self.environ)
                trusted = (*net.trusted_hosts_of(self._sources, self.environ), *config.trusted_hosts)
                self._client = net.make_client(
                    timeout=self.settings.timeout,
                    max_connections=max(4, self.settings.workers * 2),
                    verify=config.cert or True,
                    trusted_hosts=tuple(dict.fromkeys(trusted)),
                    auth=self.auth,
                )
            return self._client

    @property
    def store(self) -> Any:
        """The SQLite knowledge store, opened on first use (a warm install never needs it)."""
        if self._store is None:
            from ..store import Store

            path = self.cache.metadata_db
            self._store_kept = keeping()
            self._store = _STORES.setdefault(str(path), lambda: Store(path)) if self._store_kept else Store(path)
        return self._store

    def index_client(
        self,
        sources: Sequence[Source],
        *,
        exclude_newer: Optional[datetime] = None,
        pinned: Optional[Mapping[Any, str]] = None,
        refresh: bool = False,
    ) -> Any:
        from ..index import IndexClient

        sources = self.mirrored(sources)
        self.use_sources(sources)
        client = IndexClient(
            sources,
            client=deferred_client(lambda: self.client, self.auth),  # made on the first request
            cache=self.cache,
            store=self.store,
            environ=self.environ,
            refresh=refresh or self.settings.refresh,
            offline=self.settings.offline,
            exclude_newer=exclude_newer,
            reporter=self.reporter,
            workers=self.settings.workers,
            pinned=pinned,
            base=str(self.settings.pipfile_path.parent),
            follows_declared_direct=self.settings.follow_declared_direct,
        )
        self._index_clients.append(client)
        return client

    def pip_sources(self) -> tuple[Source, ...]:
        """The indexes pip would use here (PIP_INDEX_URL, pip.conf, else pip's default index)."""
        return pipconf.sources_from_pip_config(self.environ, cache_dir=_str(self.settings.cache_dir))

    def mirrored(self, sources: Sequence[Source]) -> tuple[Source, ...]:
        """``PIPENV_PYPI_MIRROR``, as pipenv: the mirror stands in for the default index wherever a
        source names it, at lock and install time; the Pipfile, its hash and the lock keep the
        default index's URL."""
        mirror = self.environ.get("PIPENV_PYPI_MIRROR", "").strip()
        if not mirror:
            return tuple(sources)
        default = self.default_index_url().rstrip("/") + "/"
        return tuple(
            replace(s, url=mirror, verify_ssl=s.verify_ssl or not mirror.startswith("http:"))
            if s.expanded_url(self.environ) == default else s
            for s in sources
        )

    def index_urls(self, sources: Sequence[Source]) -> list[str]:
        """The URLs pip is given for builds (the mirror in place of the default index)."""
        return [s.expanded_url(self.environ) for s in self.mirrored(sources)]

    def default_index_url(self) -> str:
        return pipconf.default_index_url(environ=self.environ, cache_dir=_str(self.settings.cache_dir))


def _str(path: Optional[os.PathLike[str]]) -> Optional[str]:
    return os.fspath(path) if path is not None else None


@contextmanager
def open_services(
    settings: Settings, environ: Mapping[str, str], reporter: Reporter, *, backend: Optional[Backend] = None
) -> Iterator[Services]:
    """The run's services; its resolver asks ``backend``, else the configured one, else resolves here."""
    cache = Cache.default(environ, _str(settings.cache_dir))
    if settings.clear:
        cache.clear()
    services = Services(settings, environ, cache, reporter, backend=backend)
    try:
        yield services
    finally:
        for index in services._index_clients:
            index.close()
        if services._client is not None:
            services._client.close()
        if services._store is not None and not services._store_kept:
            services._store.close()


def parse_exclude_newer(text: Optional[str]) -> Optional[datetime]:
    """``--exclude-newer 2024-05-01`` or a full RFC 3339 timestamp; naive means UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--exclude-newer {text!r} is not a date (use YYYY-MM-DD or an RFC 3339 time)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
