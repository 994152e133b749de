"""Package indexes: project pages (PEP 691/503, file://) and core metadata (PEP 658, range reads, builds).

``IndexClient`` (client.py) is the PackageSource the resolver consumes; pages.py
parses pages, wheelzip.py reads a wheel's METADATA through range requests,
suggest.py proposes close names for a project no index has.
"""

from __future__ import annotations

from .client import IndexClient
from .pages import ACCEPT, parse_html, parse_json, parse_page
from .suggest import suggest

__all__ = ["ACCEPT", "IndexClient", "parse_html", "parse_json", "parse_page", "suggest"]
