"""``thoth-pip serve``: run the resolver backend (needs the ``[server]`` extra)."""

from __future__ import annotations

import importlib
import signal
from pathlib import Path
from typing import Any, Callable, Optional

import click

from ...errors import UsageError

DEFAULT_RESOLVER = "micro_thoth.pipeline.advise:advise_request"


def load_resolver(reference: str) -> Callable[..., Any]:
    """Import ``module:function``; a clear error when it is missing."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--resolver {reference!r}: expected 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"cannot import the resolver {reference}: {exc}",
            hint="this build of micro-thoth has no embedded lock pipeline" if reference == DEFAULT_RESOLVER else None,
        ) from exc
    resolver = getattr(module, attribute, None)
    if not callable(resolver):
        raise UsageError(f"{module_name} has no function {attribute!r}", hint="pass --resolver module:function")
    return resolver  # type: ignore[no-any-return]


def _server_modules() -> tuple[Any, Any]:
    try:
        import uvicorn

        from ...server import app as server_app
    except ImportError as exc:
        raise UsageError(
            f"the resolver backend needs FastAPI and uvicorn ({exc.name} is missing)",
            hint="install micro-thoth[server]",
        ) from exc
    return uvicorn, server_app


def _read_token(path: Optional[Path]) -> Optional[str]:
    if path is None:
        return None
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise UsageError(f"--token-file {path}: the file is empty")
    return token


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("micro-thoth")) / "server"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256), help="Resolutions run at once (one resolver process each).")
@click.option("--database-url", envvar="THOTH_DATABASE_URL", help="postgresql://... shares jobs between replicas; default: SQLite in --data-dir.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the SQLite store lives.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Require this bearer token.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--max-body", default=1 << 20, show_default=True, type=click.IntRange(1024), help="Largest request body, in bytes.")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(0.1), help="Time limit of one resolution, in seconds.")
@click.option("--max-jobs", default=64, show_default=True, type=click.IntRange(1), help="Unfinished jobs this replica accepts before answering 503.")
@click.option("--keep-days", default=30.0, show_default=True, type=click.FloatRange(0.01), help="Forget finished jobs and unused cached results after this many days.")
@click.option("--lease", default=30.0, show_default=True, type=click.FloatRange(0.5), help="Seconds a replica holds a job without renewing it; after that another replica takes it.")
@click.option("--resolver", "resolver_ref", default=DEFAULT_RESOLVER, hidden=True, help="module:function resolving an AdviseRequest.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def command(
    host: str,
    port: int,
    workers: int,
    database_url: Optional[str],
    data_dir: Optional[Path],
    token_file: Optional[Path],
    ssl_certfile: Optional[str],
    ssl_keyfile: Optional[str],
    max_body: int,
    timeout: float,
    max_jobs: int,
    keep_days: float,
    lease: float,
    resolver_ref: str,
    log_level: str,
) -> None:
    """Run the resolver backend (our /api/v2 and Thoth's /api/v1 for thamos)."""
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise UsageError("--ssl-certfile and --ssl-keyfile go together")
    uvicorn, server_app = _server_modules()
    from ...server.config import ServerSettings

    settings = ServerSettings(
        data_dir=data_dir or _default_data_dir(),
        database_url=database_url,
        workers=workers,
        max_jobs=max(max_jobs, workers),
        timeout=timeout,
        max_body=max_body,
        token=_read_token(token_file),
        keep_days=keep_days,
        lease=lease,
        poll=min(0.5, lease / 4),
    )
    app = server_app.create_app(settings, load_resolver(resolver_ref))
    # uvicorn stops on SIGTERM, then raises the signal again under the handler it found: make that
    # one a clean exit (0), as for a stopped service, instead of death by signal.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        app, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        log_level=log_level, timeout_graceful_shutdown=3,
    )  # fmt: skip
