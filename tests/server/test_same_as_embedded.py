"""For the same input, the backend and the embedded resolver produce the same lock.

Compares against ``micro_thoth.pipeline.advise.advise_request``
(the resolver ``thoth-pip serve`` plugs by default); skipped before that.
"""

from __future__ import annotations

import importlib

from micro_thoth.resolve.remote import RemoteResolver
from micro_thoth.resolve.wire import AdviseRequest
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex


def _embedded() -> object:
    return importlib.import_module("micro_thoth.pipeline.advise").advise_request


def test_backend_lock_equals_embedded_lock(index: LocalIndex, backend_factory: object) -> None:
    advise_request = _embedded()
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2"]))
    index.add(Dist("alpha", "1.1", requires_dist=["beta>=2"]))
    index.add(Dist("beta", "2.0"))
    index.add(Dist("beta", "2.5"))
    pipfile = f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nalpha = "*"\n'
    request = AdviseRequest(requirements=pipfile, runtime_environment={"python_version": "3.11"})
    embedded = advise_request(request)  # type: ignore[operator]
    backend = backend_factory("--resolver", "micro_thoth.pipeline.advise:advise_request")  # type: ignore[operator]
    with RemoteResolver(backend.url) as remote:
        remote_result = remote.advise(request)
    assert '"alpha"' in remote_result.lock
    assert remote_result.lock == embedded.lock
