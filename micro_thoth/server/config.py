"""The backend's configuration, as one frozen value built by ``thoth-pip serve``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..pipeline.advise import KNOWLEDGE_VERSION


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``create_app`` needs besides the resolver.

    ``workers`` resolutions run at once on this replica; at most ``max_jobs`` are queued
    or running, all replicas together (more get 503 + Retry-After); each may take
    ``timeout`` seconds; ``max_body`` bytes per request body. ``token``
    enables authentication. Finished jobs, logs and cached results unused for
    ``keep_days`` are pruned. A replica running a job renews its ``lease`` (seconds)
    every third of it; another replica takes the job again once it expires, at most
    ``max_attempts`` times in all. Idle workers look for jobs of other replicas every
    ``poll`` seconds. ``isolation`` is "process" (a resolution that runs
    over time is killed) or "thread" (for resolvers that cannot be pickled).
    """

    data_dir: Path
    database_url: Optional[str] = None
    workers: int = 2
    max_jobs: int = 64
    timeout: float = 600.0
    max_body: int = 1 << 20
    token: Optional[str] = None
    isolation: str = "process"
    sync_wait: float = 60.0
    retry_after: int = 5
    knowledge_version: str = KNOWLEDGE_VERSION
    keep_days: float = 30.0
    lease: float = 30.0
    poll: float = 0.5
    max_attempts: int = 3
