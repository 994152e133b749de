"""Bounded load test of the resolver backend, on loopback only; it stops by itself.

Starts ``thoth-pip serve`` on 127.0.0.1 with a synthetic resolver (a small,
deterministic function of the request costing ``--work`` ms of CPU, so the
numbers measure the backend: HTTP, queue, worker processes, storage), then
runs ``--clients`` concurrent connections, phase after phase:

- ``identical/v2-sync``   one and the same request from every client, ``POST /api/v2/advise/sync``:
                          the whole answer (job and result) from storage
- ``identical/v1-submit`` the same as thamos sends it, ``POST /api/v1/advise/python`` (202, cached)
- ``identical/v1-result`` thamos' poll of that analysis, ``GET /api/v1/advise/python/{id}`` (200)
- ``cached/v2-sync``      500 different requests answered before, asked again round-robin
- ``distinct/v2-sync``    every request a new small stack: a resolution each
- ``distinct/async``      (python driver) new requests through RemoteResolver (submit + poll)

and prints throughput, p50/p99 latency and failures (any other status, any
socket error) per phase. ``--real`` runs the embedded guided resolver instead,
against a local index of built wheels on loopback (tests/support), each
request a distinct small Pipfile stack, then the same again.

The load generator is ``wrk`` when it is on PATH (``--driver wrk``: C, so the
clients cost the 2 cores little), else Python threads (``--driver python``,
``--requests`` per client instead of ``--seconds`` per phase).

    python benchmarks/load_backend.py [--clients 50] [--seconds 10] [--workers 2]
        [--database-url postgresql://...] [--work 5] [--real] [--driver wrk|python]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from micro_thoth.resolve.remote import RemoteResolver  # noqa: E402
from micro_thoth.resolve.wire import AdviseRequest, AdviseResult  # noqa: E402
from tests.support.builder import Dist  # noqa: E402
from tests.support.index_server import LocalIndex  # noqa: E402

WORK_MS = float(os.environ.get("LOAD_BACKEND_WORK_MS", "5"))


def synthetic_resolve(request: AdviseRequest) -> AdviseResult:
    """Pins each ``name`` line of the requirements; burns WORK_MS of CPU like a tiny resolution."""
    deadline = time.perf_counter() + WORK_MS / 1000
    digest = hashlib.sha256(request.requirements.encode())
    while time.perf_counter() < deadline:
        digest = hashlib.sha256(digest.digest())
    names = [line.split("=")[0].strip() for line in request.requirements.splitlines() if line.strip()]
    lock = "".join(f"{name}==1.0 --hash=sha256:{digest.hexdigest()}\n" for name in names)
    return AdviseResult(lock=lock, report={"packages": names}, knowledge_version="synthetic")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: argparse.Namespace, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "micro_thoth", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(args.workers), "--max-jobs", str(max(64, args.clients * 2)), "--timeout", "60",
        "--log-level", "warning",
    ]  # fmt: skip
    if not args.real:
        command += ["--resolver", "benchmarks.load_backend:synthetic_resolve"]
    command += ["--database-url", args.database_url] if args.database_url else ["--data-dir", data_dir]
    env = dict(os.environ, LOAD_BACKEND_WORK_MS=str(args.work), PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the backend did not start")


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live children (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, pids = 0.0, [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pids.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def _requirements(client: int, n: int, tag: str) -> str:
    return f"pkg-{tag}-{client}-{n}\nshared-a\nshared-b\n"


def run_phase(name: str, clients: int, requests: int, one: Callable[[int, int], None]) -> dict[str, object]:
    latencies: list[float] = []
    failures = 0

    def client(c: int) -> tuple[list[float], int]:
        mine, failed = [], 0
        for n in range(requests):
            start = time.perf_counter()
            try:
                one(c, n)
            except Exception as exc:  # counted and shown: a load test reports failures, it does not stop
                failed += 1
                print(f"  {name}: client {c} request {n}: {exc}", file=sys.stderr)
            mine.append(time.perf_counter() - start)
        return mine, failed

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for mine, failed in pool.map(client, range(clients)):
            latencies.extend(mine)
            failures += failed
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "phase": name,
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10, help="per client (python driver)")
    parser.add_argument("--seconds", type=float, default=10, help="per phase (wrk driver)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=float, default=WORK_MS, help="CPU milliseconds per synthetic resolution")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--real", action="store_true", help="the embedded resolver against a local index")
    parser.add_argument("--driver", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--only", default="", help="run only the wrk phases whose names start with one of these (comma-separated)")
    args = parser.parse_args()
    index = _local_index() if args.real else None
    with tempfile.TemporaryDirectory(prefix="load-backend-") as data_dir:
        process, url = start_server(args, data_dir)
        http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=args.clients))
        try:
            if args.driver == "wrk":
                wrk = Wrk(args, url, Path(data_dir), process.pid)
                results = wrk.real(http, index.url) if index is not None else wrk.synthetic(http)
            else:
                results = _real_phases(args, url, http, index.url) if index is not None else _phases(args, url, http)
        finally:
            http.close()
            process.terminate()
            process.wait(30)
            if index is not None:
                index.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        work = "embedded resolver, local index" if args.real else f"{args.work:g} ms/resolution"
        print(f"{args.clients} clients ({args.driver}), {args.workers} workers, {work}, "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        for row in results:
            print("  {phase:<20} {requests:>6} req  {failures} failed  {seconds:>6}s  {throughput_rps:>8} req/s  "
                  "p50 {p50_ms:>7} ms  p99 {p99_ms:>7} ms".format(**row)
                  + (f"  CPU {row['server_cpu_ms_per_request']} ms/req" if "server_cpu_ms_per_request" in row else ""))  # fmt: skip
    return 1 if any(row["failures"] for row in results) else 0


# The wrk script: each request's body is BODIES[k] (k counts this thread's requests, threads
# interleaved) or TEMPLATE formatted with (RUN, thread, k) for an endless supply of new ones;
# any status other than EXPECT counts as a failure, as does every socket error.
_LUA = r"""
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args) failed = 0; k = 0 end
function request()
  local body = nil
  if TEMPLATE ~= nil then body = string.format(TEMPLATE, RUN, tid, k)
  elseif #BODIES > 0 then body = BODIES[((k * THREADS + tid) % #BODIES) + 1] end
  k = k + 1
  return wrk.format(METHOD, PATH, {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body) if status ~= EXPECT then failed = failed + 1 end end
function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failed") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration, f,
    e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


class Wrk:
    """Phases driven by wrk (2 threads, ``--clients`` connections, ``--seconds`` each)."""

    THREADS = 2

    def __init__(self, args: argparse.Namespace, url: str, scratch: Path, pid: int = 0) -> None:
        self.args, self.url, self.scratch, self.pid = args, url, scratch, pid

    def phase(self, name: str, path: str, *, bodies: Sequence[str] = (), template: str | None = None,
              method: str = "POST", expect: int = 200) -> dict[str, object]:  # fmt: skip
        wanted = [prefix for prefix in self.args.only.split(",") if prefix]
        if wanted and not any(name.startswith(prefix) for prefix in wanted):
            return {"phase": name, "requests": 0, "failures": 0, "seconds": 0, "throughput_rps": 0, "p50_ms": 0, "p99_ms": 0}
        script = self.scratch / f"{name.replace('/', '-')}.lua"
        header = [
            f"METHOD = {_lua_string(method)}", f"PATH = {_lua_string(path)}", f"EXPECT = {expect}",
            f"THREADS = {self.THREADS}", f"RUN = {_lua_string(hashlib.sha256(os.urandom(8)).hexdigest()[:8])}",
            f"TEMPLATE = {_lua_string(template) if template else 'nil'}",
            "BODIES = {" + ",\n".join(_lua_string(body) for body in bodies) + "}",
        ]  # fmt: skip
        script.write_text("\n".join(header) + _LUA)
        command = ["wrk", f"-t{self.THREADS}", f"-c{self.args.clients}", f"-d{self.args.seconds:g}s",
                   "--timeout", "30s", "-s", str(script), self.url]  # fmt: skip
        cpu = process_cpu(self.pid)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        cpu = process_cpu(self.pid) - cpu
        found = re.search(r"^RESULT ([\d ]+)$", out, re.MULTILINE)
        if found is None:
            raise SystemExit(f"wrk gave no result:\n{out}")
        requests, micros, failed, *errors, p50, p99 = (int(x) for x in found.group(1).split())
        return {
            "phase": name, "requests": requests, "failures": failed + sum(errors), "seconds": round(micros / 1e6, 2),
            "throughput_rps": round(requests / (micros / 1e6), 1), "p50_ms": round(p50 / 1000, 1),
            "p99_ms": round(p99 / 1000, 1), "load_average": round(os.getloadavg()[0], 1),
            "server_cpu_ms_per_request": round(cpu * 1000 / max(1, requests), 2),  # its resolver processes included
        }  # fmt: skip

    def synthetic(self, http: httpx.Client) -> list[dict[str, object]]:
        same = {"requirements": "same-a\nsame-b\n", "requirements_format": "pip"}
        _ok(http.post(f"{self.url}/api/v2/advise/sync", json=same))  # computed once: the phases read storage
        v1 = {"application_stack": {"requirements": "same-a\nsame-b\n", "requirements_format": "pip-tools"},
              "runtime_environment": {"python_version": "3.11"}}  # fmt: skip
        v1_path = "/api/v1/advise/python?recommendation_type=latest"
        analysis = http.post(f"{self.url}{v1_path}", json=v1).json()["analysis_id"]
        while http.get(f"{self.url}/api/v1/advise/python/{analysis}").status_code == 202:
            time.sleep(0.05)
        many = [json.dumps({"requirements": _requirements(0, n, "cached"), "requirements_format": "pip"}) for n in range(500)]
        for body in many:
            _ok(http.post(f"{self.url}/api/v2/advise/sync", content=body))
        template = json.dumps({"requirements": "pkg-%s-%d-%d\nshared-a\nshared-b\n", "requirements_format": "pip"})
        return [
            self.phase("identical/v2-sync", "/api/v2/advise/sync", bodies=[json.dumps(same)]),
            self.phase("identical/v1-submit", v1_path, bodies=[json.dumps(v1)], expect=202),
            self.phase("identical/v1-result", f"/api/v1/advise/python/{analysis}", method="GET"),
            self.phase("cached/v2-sync", "/api/v2/advise/sync", bodies=many),
            self.phase("distinct/v2-sync", "/api/v2/advise/sync", template=template),
        ]

    def real(self, http: httpx.Client, index_url: str) -> list[dict[str, object]]:
        bodies = [json.dumps({"requirements": _pipfile(index_url, k), "search_limit": 0}) for k in range(5000)]
        return [
            self.phase("distinct/real", "/api/v2/advise/sync", bodies=bodies),
            self.phase("cached/real", "/api/v2/advise/sync", bodies=bodies[:200]),
        ]


def _ok(response: httpx.Response) -> None:
    if response.status_code != 200 or response.json()["state"] != "succeeded":
        raise SystemExit(f"the backend failed a warm-up request: HTTP {response.status_code}: {response.text[:300]}")


def _phases(args: argparse.Namespace, url: str, http: httpx.Client) -> list[dict[str, object]]:
    def sync(tag: str) -> Callable[[int, int], None]:
        def one(c: int, n: int) -> None:
            response = http.post(f"{url}/api/v2/advise/sync", json={"requirements": _requirements(c, n, tag), "requirements_format": "pip"})
            if response.status_code != 200 or response.json()["state"] != "succeeded":
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

        return one

    remote = RemoteResolver(url, client=http, environ={})

    def via_remote(c: int, n: int) -> None:
        remote.advise(AdviseRequest(requirements=_requirements(c, n, "async"), requirements_format="pip"))

    def identical(c: int, n: int) -> None:
        response = http.post(f"{url}/api/v2/advise/sync", json={"requirements": "same-a\nsame-b\n", "requirements_format": "pip"})
        if response.status_code != 200 or response.json()["state"] != "succeeded":
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    identical(0, 0)  # the first answer is computed; the phase measures answers from storage
    return [
        run_phase("distinct/sync", args.clients, args.requests, sync("sync")),
        run_phase("cached/sync", args.clients, args.requests, sync("sync")),
        run_phase("identical/sync", args.clients, args.requests, identical),
        run_phase("distinct/async", args.clients, args.requests, via_remote),
    ]


PACKAGES = 40  # 9,880 different stacks of three


def _local_index() -> LocalIndex:
    """A loopback index of built wheels: pkg-0..pkg-39, two releases each, each needing a shared base."""
    index = LocalIndex()
    index.add(Dist("base", "1.0"))
    index.add(Dist("base", "1.1"))
    for i in range(PACKAGES):
        for version in ("1.0", "1.1"):
            index.add(Dist(f"pkg-{i}", version, requires_dist=["base>=1"]))
    return index


_STACKS = list(itertools.combinations(range(PACKAGES), 3))
random.Random(19).shuffle(_STACKS)


def _pipfile(index_url: str, k: int) -> str:
    """The k-th small stack: three of the index's packages (all needing ``base``), a different three
    for each k below len(_STACKS)."""
    packages = "".join(f'pkg-{p} = "*"\n' for p in _STACKS[k % len(_STACKS)])
    return f'[[source]]\nurl = "{index_url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{packages}'


def _real_phases(args: argparse.Namespace, url: str, http: httpx.Client, index_url: str) -> list[dict[str, object]]:
    def one(c: int, n: int) -> None:
        response = http.post(f"{url}/api/v2/advise/sync", json={"requirements": _pipfile(index_url, c * args.requests + n), "search_limit": 0})
        if response.status_code != 200 or response.json()["state"] != "succeeded":
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")

    return [
        run_phase("distinct/real", args.clients, args.requests, one),
        run_phase("cached/real", args.clients, args.requests, one),
    ]


if __name__ == "__main__":
    sys.exit(main())
