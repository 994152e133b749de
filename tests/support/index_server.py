"""A real package index on 127.0.0.1 for tests: PEP 503 HTML, PEP 691 JSON,
PEP 658/714 ``.metadata`` files, HTTP Range, ETag; every request is logged.

    index = LocalIndex()            # started on a free port
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2"]))
    index.url                       # http://127.0.0.1:PORT/simple/
    index.requests                  # ["GET /simple/alpha/", ...]
    index.close()
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from .builder import Dist, build_sdist, build_wheel

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class IndexFile:
    project: str
    filename: str
    data: bytes
    metadata: bytes | None = None
    requires_python: str | None = None
    yanked: str | None = None
    upload_time: str = "2024-01-01T00:00:00.000000Z"
    listed_sha256: str | None = None  # what the page says, when it lies (see tamper)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def listed(self) -> str:
        return self.listed_sha256 or self.sha256


class LocalIndex:
    """An index server in a background thread. Options mimic real-world indexes."""

    def __init__(
        self,
        *,
        json_api: bool = True,
        metadata_files: bool = True,
        ranges: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.json_api = json_api
        self.metadata_files = metadata_files
        self.ranges = ranges
        self.auth = (username, password) if username else None
        self.files: dict[str, list[IndexFile]] = {}
        self.requests: list[str] = []
        self.fail_next: dict[str, int] = {}  # path -> number of 503s to answer first
        self.cut_next: dict[str, int] = {}  # path -> number of answers cut off mid-body (connection closed) first
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # -- content -------------------------------------------------------------
    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.root}/simple/"

    def url_with_auth(self) -> str:
        assert self.auth
        return self.url.replace("http://", f"http://{self.auth[0]}:{self.auth[1]}@")

    def add(
        self,
        dist: Dist,
        *,
        wheel: bool = True,
        sdist: bool = False,
        yanked: str | None = None,
        upload_time: str | None = None,
    ) -> list[IndexFile]:
        added = []
        if wheel:
            added.append(self.add_file(dist, dist.wheel_filename, build_wheel(dist), yanked, upload_time))
        if sdist:
            added.append(self.add_file(dist, dist.sdist_filename, build_sdist(dist), yanked, upload_time))
        return added

    def add_file(
        self,
        dist: Dist,
        filename: str,
        data: bytes,
        yanked: str | None = None,
        upload_time: str | None = None,
    ) -> IndexFile:
        entry = IndexFile(
            project=canonicalize_name(dist.name),
            filename=filename,
            data=data,
            metadata=dist.metadata_text().encode() if filename.endswith(".whl") else None,
            requires_python=dist.requires_python,
            yanked=yanked,
            upload_time=upload_time or "2024-01-01T00:00:00.000000Z",
        )
        with self._lock:
            self.files.setdefault(entry.project, []).append(entry)
        return entry

    def find(self, filename: str) -> IndexFile:
        for entries in self.files.values():
            for entry in entries:
                if entry.filename == filename:
                    return entry
        raise KeyError(filename)

    def tamper(self, filename: str, *, relist: bool = False) -> None:
        """Change a file's bytes in place (same name, other digest).

        By default the page keeps advertising the old digest, as a compromised
        mirror or a corrupting proxy would; ``relist=True`` updates the listing.
        """
        entry = self.find(filename)
        if not relist:
            entry.listed_sha256 = entry.listed
        entry.data = entry.data + b"\0"

    def requested(self, fragment: str) -> list[str]:
        return [r for r in self.requests if fragment in r]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- rendering -----------------------------------------------------------
    def project_json(self, project: str) -> bytes:
        files = []
        for f in self.files.get(project, []):
            item: dict[str, object] = {
                "filename": f.filename,
                "url": f"../../files/{f.filename}",
                "hashes": {"sha256": f.listed},
                "upload-time": f.upload_time,
                "size": len(f.data),
            }
            if f.requires_python:
                item["requires-python"] = f.requires_python
            if f.yanked is not None:
                item["yanked"] = f.yanked or True
            if self.metadata_files and f.metadata is not None:
                item["core-metadata"] = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
                item["dist-info-metadata"] = item["core-metadata"]
            files.append(item)
        return json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": files}).encode()

    def project_html(self, project: str) -> bytes:
        rows = []
        for f in self.files.get(project, []):
            attrs = [f'href="../../files/{f.filename}#sha256={f.listed}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
            if self.metadata_files and f.metadata is not None:
                digest = hashlib.sha256(f.metadata).hexdigest()
                attrs.append(f'data-core-metadata="sha256={digest}"')
                attrs.append(f'data-dist-info-metadata="sha256={digest}"')
            rows.append(f"    <a {' '.join(attrs)}>{f.filename}</a><br/>")
        body = "\n".join(rows)
        return (
            "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n"
            f"    <title>Links for {project}</title>\n  </head>\n  <body>\n    <h1>Links for {project}</h1>\n"
            f"{body}\n  </body>\n</html>\n"
        ).encode()

    def root_html(self) -> bytes:
        links = "\n".join(f'<a href="{p}/">{p}</a>' for p in sorted(self.files))
        return f"<!DOCTYPE html><html><body>\n{links}\n</body></html>\n".encode()


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (cancelled downloads) are normal here, not errors to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


def _make_handler(index: LocalIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            index.requests.append(f"{self.command} {path}")
            if index.auth and not self._authorised():
                self._send(401, b"unauthorised", "text/plain", extra={"WWW-Authenticate": 'Basic realm="test"'})
                return
            remaining = index.fail_next.get(path, 0)
            if remaining:
                index.fail_next[path] = remaining - 1
                self._send(503, b"try later", "text/plain")
                return
            if path in ("/simple", "/simple/"):
                self._send(200, index.root_html(), "text/html", head=head)
                return
            match = re.fullmatch(r"/simple/([^/]+)/?", path)
            if match:
                self._project(canonicalize_name(match.group(1)), match.group(1), head)
                return
            match = re.fullmatch(r"/files/(.+)", path)
            if match:
                self._file(match.group(1), head)
                return
            self._send(404, b"not found", "text/plain", head=head)

        def _authorised(self) -> bool:
            import base64

            header = self.headers.get("Authorization", "")
            expected = base64.b64encode(f"{index.auth[0]}:{index.auth[1]}".encode()).decode()  # type: ignore[index]
            return header == f"Basic {expected}"

        def _project(self, project: str, asked: str, head: bool) -> None:
            if project != asked:
                self.send_response(301)
                self.send_header("Location", f"/simple/{project}/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if project not in index.files:
                self._send(404, b"not found", "text/plain", head=head)
                return
            accept = self.headers.get("Accept", "")
            if index.json_api and JSON_TYPE in accept:
                body, ctype = index.project_json(project), JSON_TYPE
            else:
                body, ctype = index.project_html(project), "text/html"
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", ctype, extra={"ETag": etag}, head=True)
                return
            self._send(200, body, ctype, extra={"ETag": etag}, head=head)

        def _file(self, name: str, head: bool) -> None:
            want_metadata = name.endswith(".metadata")
            filename = name[: -len(".metadata")] if want_metadata else name
            try:
                entry = index.find(filename)
            except KeyError:
                self._send(404, b"not found", "text/plain", head=head)
                return
            if want_metadata:
                if not index.metadata_files or entry.metadata is None:
                    self._send(404, b"not found", "text/plain", head=head)
                    return
                self._send(200, entry.metadata, "application/octet-stream", head=head)
                return
            data = entry.data
            last_modified = email.utils.formatdate(time.time(), usegmt=True)
            extra = {"Last-Modified": last_modified}
            if index.ranges:
                extra["Accept-Ranges"] = "bytes"
                header = self.headers.get("Range")
                match = _RANGE.match(header or "")
                if match and (match.group(1) or match.group(2)):
                    start_s, end_s = match.groups()
                    if start_s == "":
                        start = max(0, len(data) - int(end_s))
                        end = len(data) - 1
                    else:
                        start = int(start_s)
                        end = min(int(end_s), len(data) - 1) if end_s else len(data) - 1
                    if start >= len(data):
                        self._send(416, b"", "text/plain", extra={"Content-Range": f"bytes */{len(data)}"}, head=head)
                        return
                    extra["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                    self._send(206, data[start : end + 1], "application/octet-stream", extra=extra, head=head)
                    return
            self._send(200, data, "application/octet-stream", extra=extra, head=head)

        def _send(
            self,
            status: int,
            body: bytes,
            ctype: str,
            *,
            extra: dict[str, str] | None = None,
            head: bool = False,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            path = unquote(urlsplit(self.path).path)
            if not head and status == 200 and index.cut_next.get(path, 0):
                index.cut_next[path] -= 1
                self.wfile.write(body[: len(body) // 2])  # the rest never comes: the connection is closed
                self.wfile.flush()
                self.close_connection = True
                return
            if not head and status != 304:
                self.wfile.write(body)

    return Handler
