"""net.py: the shared client, credentials from URLs and netrc (credentials.py), retries, error translation."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from micro_thoth.credentials import IndexAuth, deferred_client
from micro_thoth.errors import IndexUnreachable
from micro_thoth.models import Source
from micro_thoth.net import (
    make_client,
    request,
    retry_delay,
    scrub,
    translate_errors,
    trusted_hosts_of,
)
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_get_returns_page_and_404(index: LocalIndex) -> None:
    index.add(Dist("alpha", "1.0"))
    with make_client() as client:
        assert request(client, "GET", index.url + "alpha/").status_code == 200
        assert request(client, "GET", index.url + "nothing/").status_code == 404


def test_user_agent_and_redirect(index: LocalIndex) -> None:
    index.add(Dist("Alpha_Beta", "1.0"))
    with make_client(user_agent="ua-test/1") as client:
        response = request(client, "GET", index.url + "Alpha_Beta/")
    assert response.status_code == 200
    assert str(response.url).endswith("/simple/alpha-beta/")
    assert response.request.headers["User-Agent"] == "ua-test/1"


def test_retries_503_then_succeeds(index: LocalIndex) -> None:
    index.add(Dist("alpha", "1.0"))
    index.fail_next["/simple/alpha/"] = 2
    with make_client() as client:
        response = request(client, "GET", index.url + "alpha/", backoff=0.01)
    assert response.status_code == 200
    assert index.requested("/simple/alpha/") == ["GET /simple/alpha/"] * 3


def test_persistent_503_raises_after_retries(index: LocalIndex) -> None:
    index.add(Dist("alpha", "1.0"))
    index.fail_next["/simple/alpha/"] = 10
    with make_client() as client, pytest.raises(IndexUnreachable, match="503"):
        request(client, "GET", index.url + "alpha/", retries=2, backoff=0.01)
    assert len(index.requested("/simple/alpha/")) == 3


def test_unreachable_port_is_index_unreachable() -> None:
    url = f"http://user:s3cret@127.0.0.1:{_free_port()}/simple/alpha/"
    with make_client(timeout=2) as client, pytest.raises(IndexUnreachable) as info:
        request(client, "GET", url, retries=1, backoff=0.01)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in info.value.url
    assert info.value.url.startswith("http://user:****@127.0.0.1")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_credentials_from_url_are_sent_as_header_not_in_url() -> None:
    index = LocalIndex(username="alice", password="p@ss word")
    try:
        index.add(Dist("alpha", "1.0"))
        url = index.url.replace("http://", "http://alice:p%40ss%20word@") + "alpha/"
        with make_client() as client:
            response = request(client, "GET", url)
            assert response.status_code == 200
            assert "alice" not in str(response.request.url)
            # learnt for the host: later requests without userinfo are authorised too
            assert request(client, "GET", index.url + "alpha/").status_code == 200
    finally:
        index.close()


def test_wrong_credentials_raise_without_leaking() -> None:
    index = LocalIndex(username="alice", password="right")
    try:
        url = index.url.replace("http://", "http://alice:wrong@") + "alpha/"
        with make_client() as client, pytest.raises(IndexUnreachable, match="401") as info:
            request(client, "GET", url)
        assert "wrong" not in str(info.value)
        assert info.value.hint and "netrc" in info.value.hint
    finally:
        index.close()


def test_netrc_credentials_after_401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = LocalIndex(username="bob", password="hunter2")
    try:
        index.add(Dist("alpha", "1.0"))
        netrc_file = tmp_path / "netrc"
        netrc_file.write_text("machine 127.0.0.1 login bob password hunter2\n")
        netrc_file.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc_file))
        with make_client() as client:
            assert request(client, "GET", index.url + "alpha/").status_code == 200
            assert request(client, "GET", index.url + "alpha/").status_code == 200
        # sent up front, as pip does (some registries answer 404 rather than 401)
        assert len(index.requested("/simple/alpha/")) == 2
    finally:
        index.close()


def test_stale_url_credentials_fall_back_to_netrc_once(tmp_path: Path) -> None:
    index = LocalIndex(username="bob", password="new-token")
    try:
        index.add(Dist("alpha", "1.0"))
        netrc_file = tmp_path / "netrc"
        netrc_file.write_text("machine 127.0.0.1 login bob password new-token\n")
        netrc_file.chmod(0o600)
        with make_client(auth=IndexAuth(netrc_path=str(netrc_file))) as client:
            url = index.url.replace("http://", "http://bob:old-token@") + "alpha/"
            assert request(client, "GET", url).status_code == 200
            assert request(client, "GET", index.url + "alpha/").status_code == 200
        assert len(index.requested("/simple/alpha/")) == 3  # 401, retry, then the learnt credentials
    finally:
        index.close()


def test_explicit_netrc_path(tmp_path: Path) -> None:
    netrc_file = tmp_path / "mynetrc"
    netrc_file.write_text("machine files.example login u password p\n")
    netrc_file.chmod(0o600)
    auth = IndexAuth(netrc_path=str(netrc_file))
    assert auth.credentials_for("https://files.example/x") == ("u", "p")
    assert auth.credentials_for("https://other.example/x") is None


def test_missing_or_broken_netrc_is_ignored(tmp_path: Path) -> None:
    broken = tmp_path / "netrc"
    broken.write_text("machine\n")
    assert IndexAuth(netrc_path=str(broken)).credentials_for("https://a.example/") is None
    assert IndexAuth(netrc_path=str(tmp_path / "none")).credentials_for("https://a.example/") is None


def test_register_is_per_host_and_port() -> None:
    auth = IndexAuth(netrc_path="/nonexistent")
    assert auth.register("https://u:t@host.example:8443/simple/") == "https://host.example:8443/simple/"
    assert auth.credentials_for("https://host.example:8443/files/x.whl") == ("u", "t")
    assert auth.credentials_for("https://host.example/files/x.whl") is None


def test_retry_after_is_honoured_and_capped() -> None:
    seconds = httpx.Response(503, headers={"Retry-After": "2"})
    huge = httpx.Response(503, headers={"Retry-After": "86400"})
    assert retry_delay(seconds, 0, 0.25) == 2.0
    assert retry_delay(huge, 0, 0.25) == 30.0
    assert retry_delay(None, 2, 0.25) == 1.0
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_delay(dated, 0, 0.25) == 0.0


def test_scrub_hides_passwords() -> None:
    assert scrub("see https://u:tok@h/x and http://tok2@h2/") == "see https://u:****@h/x and http://****@h2/"
    assert scrub("nothing here") == "nothing here"


def test_translate_errors_while_streaming(index: LocalIndex) -> None:
    with pytest.raises(IndexUnreachable) as info, translate_errors("http://u:pw@h/x"):
        raise httpx.ReadError("connection reset")
    assert info.value.url == "http://u:****@h/x"
    assert "connection reset" in info.value.reason


def test_stream_response(index: LocalIndex) -> None:
    (wheel,) = index.add(Dist("alpha", "1.0"))
    with make_client() as client:
        response = request(client, "GET", index.root + f"/files/{wheel.filename}", stream=True)
        with translate_errors(index.url):
            data = b"".join(response.iter_bytes())
        response.close()
    assert data == wheel.data


def test_ca_bundle_path_is_accepted(tmp_path: Path) -> None:
    import certifi

    with make_client(verify=certifi.where()) as client:
        assert client is not None
    with make_client(verify=str(Path(certifi.where()).parent)) as client:
        assert client is not None


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (made by the openssl CLI)."""
    import http.server
    import shutil
    import ssl
    import subprocess
    import threading

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", str(cert)
    server.shutdown()
    server.server_close()


def test_tls_verification_ca_bundle_and_trusted_hosts(tls_server: Any) -> None:
    url, cert = tls_server
    with make_client() as client, pytest.raises(IndexUnreachable, match=r"(?i)certificate") as info:
        request(client, "GET", url, backoff=5)  # a certificate error is not retried
    assert info.value.hint and "trusted" in info.value.hint
    with make_client(verify=cert) as client:
        assert request(client, "GET", url).status_code == 200
    host = url.split("//")[1].rstrip("/")
    with make_client(trusted_hosts=[host]) as client:
        assert request(client, "GET", url).status_code == 200


def test_trusted_hosts_of_sources() -> None:
    sources = [
        Source("a", "https://u:p@${HOST}:8443/simple", verify_ssl=False),
        Source("b", "https://checked.example/simple"),
        Source("c", "https://plain.example/simple", verify_ssl=False),
    ]
    assert trusted_hosts_of(sources, {"HOST": "private.example"}) == ("private.example:8443", "plain.example")


class _BreaksMidBody(httpx.SyncByteStream):
    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b"half of the file"
        raise httpx.ReadError("connection reset mid-body")


class _Whole(httpx.SyncByteStream):
    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b"whole"


def test_one_retry_budget_covers_failed_answers_and_bodies_lost_mid_way() -> None:
    """net.py owns retries: 503s and bodies cut mid-way share the same ``retries`` attempts."""
    from micro_thoth.index.fetch import fetch_verified

    hits: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(1)
        return httpx.Response(503) if len(hits) % 2 else httpx.Response(200, stream=_BreaksMidBody())

    class Sink:
        def restart(self) -> None:
            self.data = b""

        def write(self, chunk: bytes) -> None:
            self.data += chunk

    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(IndexUnreachable) as info:
        fetch_verified(client, "http://u:pw@h/files/x.whl", Sink(), allowed=(), package="x", filename="x.whl",
                       index=None, retries=3, backoff=0.0)
    assert len(hits) == 4  # retries + 1, not (retries + 1) per body attempt
    assert "mid-body" in info.value.reason and info.value.url == "http://u:****@h/files/x.whl"


def test_a_body_lost_mid_way_starts_over_and_succeeds() -> None:
    from micro_thoth.index.fetch import fetch_verified

    hits: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(1)
        return httpx.Response(200, stream=_BreaksMidBody() if len(hits) == 1 else _Whole())

    class Sink:
        def restart(self) -> None:
            self.data = b""

        def write(self, chunk: bytes) -> None:
            self.data += chunk

    sink = Sink()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        hasher = fetch_verified(client, "http://h/x", sink, allowed=(), package="x", filename="x", index=None, backoff=0.0)
    assert sink.data == b"whole" and hasher.size == 5 and len(hits) == 2


def test_a_deferred_client_is_made_on_first_use_only() -> None:
    made: list[httpx.Client] = []

    def make() -> httpx.Client:
        if not made:
            made.append(httpx.Client())
        return made[0]

    auth = IndexAuth()
    client = deferred_client(make, auth)
    assert client.auth is auth and made == []  # no SSL context, no CA bundle read yet
    assert client.timeout == made[0].timeout
    made[0].close()


def test_a_deferred_client_is_made_once_however_many_threads_ask() -> None:
    calls: list[httpx.Client] = []
    gate = threading.Barrier(8)

    def make() -> httpx.Client:
        calls.append(httpx.Client())
        return calls[-1]

    client = deferred_client(make, IndexAuth())

    def first_read() -> None:
        gate.wait()
        assert client.timeout is not None

    threads = [threading.Thread(target=first_read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.headers is client.headers and len(calls) == 1
    calls[0].close()
