"""micro-thoth: ``thoth-pip``, a drop-in for pipenv install/lock/sync with guided, verified resolution."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
