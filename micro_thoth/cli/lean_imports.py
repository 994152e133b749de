"""Start-up speed: httpx's own command line (``httpx._main``, which imports rich's console, progress,
syntax and table modules and pygments' lexers) is never loaded by ``import httpx``.

httpx imports its CLI module with itself whenever click, rich and pygments are installed, as they
are beside thoth-pip: about 40 ms of every networked command for a ``main`` nothing here calls.
``install`` registers a finder that answers ``httpx._main`` with a stand-in whose ``main`` loads
the real module when called; nothing else is affected, and nothing is imported until httpx is.
The finder and loader follow importlib's protocols without subclassing ``importlib.abc``, whose
import loads ``importlib.resources`` (tempfile, shutil, compression modules) into every command.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, cast

if TYPE_CHECKING:
    import importlib.abc

STANDS_IN_FOR = "httpx._main"


class _StandIn:
    """Finds ``httpx._main`` first, and gives a module whose ``main`` imports the real one on call."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Optional[types.ModuleType] = None
                  ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != STANDS_IN_FOR:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("importlib.abc.Loader", self))  # its protocol

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        module.main = _real_main  # type: ignore[attr-defined]


def _real_main(*args: Any, **kwargs: Any) -> Any:
    """httpx's command line, loaded now: the stand-in and its finder step aside first."""
    uninstall()
    sys.modules.pop(STANDS_IN_FOR, None)
    real = importlib.import_module(STANDS_IN_FOR)
    return real.main(*args, **kwargs)


_FINDER = _StandIn()


def install() -> None:
    """Put the finder first (once); a no-op when httpx is already imported."""
    if STANDS_IN_FOR not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
