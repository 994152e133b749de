"""Lock categories: the names of pipenv's two standard ones (light: the no-op sync reads them before anything else)."""

from __future__ import annotations

DEFAULT_CATEGORY = "default"
DEVELOP_CATEGORY = "develop"
