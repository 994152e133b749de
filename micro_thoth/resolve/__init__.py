"""Resolution: requirements in, a pinned stack out, through the PackageSource protocol only."""

from __future__ import annotations

from .embedded import as_constraints, changed, improve, resolve, resolve_categories
from .reporter import ResolverReporter
from .result import Edge, Resolution, ResolvedPin

__all__ = [
    "Edge",
    "Resolution",
    "ResolvedPin",
    "ResolverReporter",
    "as_constraints",
    "changed",
    "improve",
    "resolve",
    "resolve_categories",
]
