"""Real backend processes for the tests: ``thoth-pip serve`` on 127.0.0.1 with a test resolver.

``backend_factory(*args)`` starts ``python -m micro_thoth serve`` on a free
port with ``--resolver tests.server.resolvers:resolve`` plus ``args``, waits
for ``/health`` and stops it after the test. ``postgres_url`` is the scratch
database named by ``THOTH_TEST_POSTGRES_URL`` (tests that need it are skipped
when it is not set).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
RESOLVER = "tests.server.resolvers:resolve"
# Read at import: the autouse isolation fixture removes every THOTH_* variable.
POSTGRES_URL = os.environ.get("THOTH_TEST_POSTGRES_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Backend:
    """One running server process."""

    def __init__(self, data_dir: Path, args: tuple[str, ...], scheme: str = "http") -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.output = data_dir / "server.log"
        command = [
            sys.executable, "-m", "micro_thoth", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--resolver", RESOLVER, *args,
        ]  # fmt: skip
        if "--database-url" not in args:
            command += ["--data-dir", str(data_dir)]
        self._log = self.output.open("wb")
        self.process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"backend exited with {self.process.returncode}:\n{self.output.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", verify=False, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"backend did not become healthy:\n{self.output.read_text()}")

    def client(self, token: Optional[str] = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, verify=False, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[object]:
    started: list[Backend] = []

    def start(*args: str, scheme: str = "http", data_dir: Optional[Path] = None) -> Backend:
        directory = data_dir or tmp_path / f"backend-{len(started)}"
        directory.mkdir(parents=True, exist_ok=True)
        backend = Backend(directory, args, scheme)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One default backend per test module (tests that need options start their own)."""
    server = Backend(tmp_path_factory.mktemp("backend"), ("--timeout", "20"))
    yield server
    server.stop()


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A URL of THOTH_TEST_POSTGRES_URL's database whose search_path is a fresh schema, dropped after."""
    if not POSTGRES_URL:
        pytest.skip("set THOTH_TEST_POSTGRES_URL to run the PostgreSQL tests")
    import psycopg

    schema = f"mt_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with scratch_postgres() as url:
        yield url


@pytest.fixture
def tls(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def wait_done(client: httpx.Client, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v2/advise/{job_id}").json()
        if body["state"] in ("succeeded", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


PIPFILE = """\
[[source]]
url = "https://alice:s3cr3t-token@private.example/simple"
verify_ssl = true
name = "private"

[packages]
requests = "==2.31.0"
flask = "*"

[dev-packages]
pytest = "==8.0"
"""
