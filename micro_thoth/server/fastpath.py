"""Answers to repeated identical requests from memory, in front of FastAPI: no parsing, no database.

A handler that answers from storage something that cannot change by itself
(an identical request whose job succeeded, the result of a finished job) marks
the request with the job's digest (``remember(request, digest, ...)``); this
ASGI layer then keeps the whole HTTP answer in a bounded LRU, keyed by a
SHA-256 of the method, path, query string and raw body. The next identical
request gets those bytes back before FastAPI's validation and dependency
machinery, the JSON parser or any database round-trip run; it is still
authenticated (the token is checked as the slow path checks it).

Stored answers follow the store (see ``Answers.watch``): a job of the same
digest created or finished on this replica drops them at once, one of another
replica within ``interval`` seconds; a change of the knowledge (prescriptions,
advisories) drops them all; none is served for more than ``ttl`` seconds (so
pruning and marking results used keep working through the slow path).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_STATE_KEY = "micro_thoth.answer"
_SKEW = 2.0


@dataclass(frozen=True)
class Answer:
    """One captured HTTP answer: what it answers (a job digest) and whether it needs the token."""

    digest: str
    needs_token: bool
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    stored_at: float


def presented_token(authorization: str, query_token: Optional[str]) -> Optional[str]:
    """The token a request carries: ``Authorization: Bearer|Token <t>``, else the ``token`` query parameter (thamos)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return query_token


def token_matches(expected: str, presented: Optional[str]) -> bool:
    """Constant-time comparison of the presented token with the configured one."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def remember(scope: Scope, digest: str, needs_token: bool) -> None:
    """Called by a handler (``request.scope``): its answer, about a job of ``digest``, may be served again
    from memory until a job of that digest is created or finished."""
    scope.setdefault("state", {})[_STATE_KEY] = (digest, needs_token)


class Answers:
    """The LRU of answers, bounded by count and bytes; thread-safe (workers and the watcher drop entries)."""

    def __init__(self, size: int = 4096, max_bytes: int = 64 << 20, ttl: float = 30.0) -> None:
        self.size, self.max_bytes, self.ttl = size, max_bytes, ttl
        self._entries: OrderedDict[bytes, Answer] = OrderedDict()
        self._keys: dict[str, set[bytes]] = {}  # the keys of each digest's answers
        self._bytes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seq = 0  # counts drops; a put that began before a drop of its digest is refused
        self._dropped: OrderedDict[str, int] = OrderedDict()
        self._floor = 0  # the newest drop no longer in _dropped
        self.hits = 0
        self.finished: list[Callable[[set[str]], None]] = []  # told the digests of jobs any replica finished

    def mark(self) -> int:
        """Taken before computing an answer: ``put`` refuses it if its digest was dropped since."""
        with self._lock:
            return self._seq

    def get(self, key: bytes) -> Optional[Answer]:
        with self._lock:
            answer = self._entries.get(key)
            if answer is None:
                return None
            if time.monotonic() - answer.stored_at > self.ttl:
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: bytes, answer: Answer, mark: int) -> None:
        if len(answer.body) > self.max_bytes // 16:
            return
        with self._lock:
            if self._dropped.get(answer.digest, self._floor) > mark:
                return  # the store changed while this answer was computed: it may be stale already
            self._remove(key)
            self._entries[key] = answer
            self._keys.setdefault(answer.digest, set()).add(key)
            self._bytes += len(answer.body)
            while len(self._entries) > self.size or self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def _remove(self, key: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
            keys = self._keys.get(old.digest, set())
            keys.discard(key)
            if not keys:
                self._keys.pop(old.digest, None)

    def drop(self, digests: Iterable[str]) -> None:
        """Forget the answers about jobs of these digests (one was created or finished)."""
        gone = set(digests)
        if not gone:
            return
        with self._lock:
            self._seq += 1
            for digest in gone:
                self._dropped[digest] = self._seq
                self._dropped.move_to_end(digest)
            while len(self._dropped) > 4 * self.size:
                self._floor = self._dropped.popitem(last=False)[1]
            for digest in gone:
                for key in list(self._keys.get(digest, ())):
                    self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._seq += 1
            self._floor = self._seq
            self._dropped.clear()
            self._entries.clear()
            self._keys.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def watch(
        self, changed: Callable[[float], list[tuple[str, Optional[float]]]], knowledge: Callable[[], str], interval: float
    ) -> None:
        """Follow the store, in a thread, until ``close``: ``changed(since)`` gives the digests of
        unfinished jobs (at None: dropped at every look) and of jobs finished since then (looking
        ``_SKEW`` s further back, for replicas' clocks and slow transactions; each dropped once),
        ``knowledge()`` the knowledge digest (a change drops everything)."""
        since, known = time.time(), knowledge()
        seen: set[tuple[str, float]] = set()
        while not self._stop.wait(interval):
            now = time.time()
            try:
                rows = changed(since - _SKEW)
                now_known = knowledge()
            except Exception:  # the store is unreachable for a moment: serve nothing from memory meanwhile
                self.clear()
                continue
            finished = {(digest, at) for digest, at in rows if at is not None}
            self.drop({digest for digest, at in rows if at is None or (digest, at) not in seen})
            news = {digest for digest, _at in finished - seen}
            for listener in self.finished if news else ():
                with contextlib.suppress(Exception):  # a waiter gone (its loop closed) must not end the watch
                    listener(news)
            since, seen = now, finished
            if now_known != known:
                known = now_known
                self.clear()

    def close(self) -> None:
        self._stop.set()


def _key(scope: Scope, body: bytes) -> bytes:
    hasher = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body):
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.digest()


async def _read_body(receive: Receive) -> Optional[bytes]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class FastPath:
    """The ASGI layer: serve a remembered answer, or run the app and remember what it marks."""

    def __init__(self, app: Any, answers: Answers, token: Optional[str]) -> None:
        self.app, self.answers, self.token = app, answers, token

    def _authorized(self, scope: Scope, answer: Answer) -> bool:
        if self.token is None or not answer.needs_token:
            return True
        authorization = ""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                authorization = value.decode("latin-1")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        return token_matches(self.token, presented_token(authorization, query.get("token")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive) if scope["method"] == "POST" else b""
        if body is None:
            return
        key = _key(scope, body)
        answer = self.answers.get(key)
        if answer is not None and self._authorized(scope, answer):
            await send({"type": "http.response.start", "status": answer.status, "headers": list(answer.headers)})
            await send({"type": "http.response.body", "body": answer.body})
            return
        await self._run(scope, replay_body(body, receive), send, key)

    async def _run(self, scope: Scope, receive: Receive, send: Send, key: bytes) -> None:
        state = scope.setdefault("state", {})
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        began, mark = time.monotonic(), self.answers.mark()
        await self.app(scope, receive, capture)
        marked = state.get(_STATE_KEY)
        if marked is not None and start.get("status") in (200, 202):
            digest, needs_token = marked
            headers = tuple((bytes(k), bytes(v)) for k, v in start.get("headers", ()))
            self.answers.put(key, Answer(digest, needs_token, start["status"], headers, b"".join(chunks), began), mark)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read whole) once, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
