"""Package indexes: project pages (PEP 691/503, file://) and core metadata (PEP 658, range reads, builds).

``IndexClient`` (client.py) is the PackageSource the resolver consumes; it joins
project_pages.py (pages fetched and kept fresh across runs), metadata.py (the
metadata strategies) and prefetch.py (work started early, never repeated).
pages.py parses pages, fetch.py is the one fetch-and-verify path (download.py uses
it too), wheelzip.py reads a wheel's METADATA through range requests, suggest.py
proposes close names for a project no index has.
"""

from __future__ import annotations

from .client import IndexClient
from .pages import ACCEPT, parse_html, parse_json, parse_page
from .suggest import suggest

__all__ = ["ACCEPT", "IndexClient", "parse_html", "parse_json", "parse_page", "suggest"]
