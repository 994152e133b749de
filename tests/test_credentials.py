"""credentials.py: hosts named and keyed as httpx names them, without importing it."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from micro_thoth.credentials import IndexAuth, host_key, host_name


def _httpx_key(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


@pytest.mark.parametrize("url", [
    "https://Host.Example:8443/simple/", "https://host.example:443/x", "http://host.example:80/",
    "http://host.example:443/", "https://bücher.example/simple/", "https://xn--bcher-kva.example/x",
    "https://[::1]:8080/simple/", "https://u:p@Index.Example/simple/", "https://a.xn--bcher-kva.example/",
])
def test_hosts_are_keyed_as_httpx_keys_them(url: str) -> None:
    assert host_key(url) == _httpx_key(url)
    assert host_name(url) == httpx.URL(url).host


def test_the_two_spellings_of_an_international_host_share_credentials() -> None:
    auth = IndexAuth(netrc_path="/nonexistent")
    auth.register("https://u:t@bücher.example/simple/")
    assert auth.credentials_for("https://xn--bcher-kva.example/files/x.whl") == ("u", "t")


def test_holding_credentials_imports_no_http_library() -> None:
    code = (
        "import sys\n"
        "from micro_thoth.credentials import IndexAuth, deferred_client\n"
        "auth = IndexAuth(netrc_path='/nonexistent')\n"
        "auth.register('https://u:t@index.example/simple/')\n"
        "deferred_client(lambda: None, auth)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'httpcore', 'idna'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
