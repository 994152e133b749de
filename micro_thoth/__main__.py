"""``python -m micro_thoth``: the same as the ``thoth-pip`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
