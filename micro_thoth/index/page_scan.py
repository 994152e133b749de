"""A PEP 691 page split by version into its files' own JSON text: read one file at a time, never decoded whole, nothing re-encoded."""

from __future__ import annotations

import json
import json.scanner
import re
from typing import Optional, Union

from micro_thoth.artifacts import filename_parts

from .pages import InvalidPage, Span, resolve_url

_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # (text, index) -> (one decoded value, index after it)
_SPACE = re.compile(r"[ \t\n\r]*")
_ABSOLUTE = ("https://", "http://", "file:")
_SDISTS = (".tar.gz", ".zip")


def json_value(body: Union[bytes, list[bytes]], page_url: str, head: str = "") -> tuple[str, list[Span]]:
    """A PEP 691 page straight to the value the store keeps (``pages.artifacts_to_groups``' layout
    after ``head``) and where each group's rows sit in it: per (project, version), in order of first
    appearance, a JSON array of its files' objects as the page gave them, in page order, nothing
    re-encoded (only an object with a relative URL, made absolute, or spread over lines). The page
    is read one file at a time, never decoded whole, and the value is joined once (no copy of each
    group on the way); each version's files are built (``pages.artifacts_from_rows``) when the
    resolver reaches it. ``body`` in a list is taken out of it: the caller lets go of megabytes as
    soon as they are decoded."""
    try:
        text, exact = _decoded(body if isinstance(body, bytes) else body.pop())
        files, meta = _scan_page(text, page_url, exact and "\n" not in text)
        del text  # the files' slices are all that is kept of it
        version = str((meta or {}).get("api-version", "1.0"))  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError, AttributeError, AssertionError, IndexError, StopIteration) as exc:
        raise InvalidPage(f"not a PEP 691 project page: {exc!r}") from exc
    if version.split(".")[0] != "1":
        raise InvalidPage(f"simple API version {version} is not supported (1.x is)")
    return _joined(files, head)


def json_groups(body: bytes, page_url: str) -> list[tuple[str, str, str]]:
    """``json_value``'s groups as (project, version text, rows text)."""
    value, spans = json_value(body, page_url)
    return [(name, version, value[start:end]) for name, version, start, end in spans]


def _decoded(body: bytes) -> tuple[str, bool]:
    """The page's text, and whether each file's text may be kept as it is (no lone surrogate)."""
    encoding = json.detect_encoding(body)
    try:
        return body.decode(encoding), True
    except UnicodeDecodeError:  # an encoded lone surrogate, as json.loads takes it: every file re-encoded (escaped)
        return body.decode(encoding, "surrogatepass"), False


def _joined(files: dict[tuple[str, str], list[str]], head: str) -> tuple[str, list[Span]]:
    """``head`` and the groups' lines joined in one piece, and where each group's rows are in it;
    each group's slices dropped as soon as they are joined."""
    pieces, spans, at = [head], [], len(head)
    for key in list(files):
        rows = f"[{','.join(files.pop(key))}]"
        name, version = key
        start = at + len(name) + len(version) + 2
        at = start + len(rows)
        pieces += (name, "\t", version, "\t", rows, "\n")
        spans.append((name, version, start, at))
        at += 1  # the newline
    if spans:
        pieces.pop()  # no newline after the last group
    return "".join(pieces), spans


def _skip(text: str, index: int) -> int:
    """The index of the first character from ``index`` that is not JSON whitespace."""
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]  # a * pattern always matches


def _scan_page(text: str, page_url: str, exact: bool) -> tuple[dict[tuple[str, str], list[str]], object]:
    """The page object's members read one by one: ``files`` split into groups, ``meta`` decoded,
    the rest stepped over (as strictly as ``json.loads``: anything malformed raises). ``exact``: the
    files' text may be kept as it is (one line, no lone surrogate); else each is re-encoded."""
    index = _skip(text, 0)
    if text[index] != "{":
        raise TypeError("the page is not a JSON object")
    groups: Optional[dict[tuple[str, str], list[str]]] = None
    meta: object = None
    index = _skip(text, index + 1)
    while text[index] != "}":
        key, index = _SCAN(text, index)
        index = _skip(text, index)
        if not isinstance(key, str) or text[index] != ":":
            raise ValueError(f"expected a member name and ':' at {index}")
        index = _skip(text, index + 1)
        if key == "files":
            groups, index = _scan_files(text, index, page_url, exact)
        else:
            value, index = _SCAN(text, index)
            meta = value if key == "meta" else meta
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
            if text[index] == "}":
                raise ValueError(f"a trailing comma at {index}")
        elif text[index] != "}":
            raise ValueError(f"expected ',' or '}}' at {index}")
    if text[_skip(text, index + 1):]:
        raise ValueError("extra data after the page object")
    if groups is None:
        raise KeyError("files")
    return groups, meta


def _scan_files(text: str, index: int, page_url: str, exact: bool) -> tuple[dict[tuple[str, str], list[str]], int]:
    """The ``files`` array from ``index``: each file's own JSON text under its (project, version).
    Tens of thousands of files a lock: the loop is kept flat (no call but the scanner's a file)."""
    if text[index] != "[":
        raise TypeError("files is not an array")
    groups: dict[tuple[str, str], list[str]] = {}
    keys: dict[str, tuple[str, str]] = {}  # a wheel name's "project-version" prefix -> its group
    index = _skip(text, index + 1)
    while text[index] != "]":
        start = index
        item, index = _SCAN(text, index)
        if type(item) is not dict:
            raise TypeError(f"a file is not an object: {item!r}")
        filename, url, hashes = item["filename"], item["url"], item.get("hashes")
        if hashes and type(hashes) is not dict:  # what _json_row would refuse when the version is built
            raise TypeError(f"hashes is not an object: {hashes!r}")
        raw = text[start:index]
        if not exact or type(url) is not str or not url.startswith(_ABSOLUTE):
            raw = json.dumps({**item, "url": resolve_url(page_url, str(url))}, separators=(",", ":"))
        filename = filename if type(filename) is str else str(filename)
        if filename.endswith(".whl"):  # a wheel name's "project-version" prefix, as _version_key remembers it
            key = keys.get(filename[: filename.find("-", filename.find("-") + 1)]) if filename.count("-") in (4, 5) else None
        else:  # an sdist of a version whose wheel came first: the same split (one "-"), if it read a version
            key = keys.get(filename[: -7 if filename.endswith(".tar.gz") else -4]) if filename.endswith(_SDISTS) else None
            key = key if key is not None and key[1] else None
        if key is None:
            key = _version_key(filename, keys)
        group = groups.get(key)
        if group is None:
            groups[key] = [raw]
        else:
            group.append(raw)
        if text[index] == ",":  # the next file, after ", " (the default index's separator) or any whitespace
            index += 2 if text[index + 1] == " " else 1
            if text[index] in " \t\n\r":
                index = _skip(text, index)
            if text[index] == "]":
                raise ValueError(f"a trailing comma at {index}")
        elif text[index] != "]":
            index = _skip(text, index)
            if text[index] not in ",]":
                raise ValueError(f"expected ',' or ']' at {index}")
            if text[index] == ",":
                index = _skip(text, index + 1)
                if text[index] == "]":
                    raise ValueError(f"a trailing comma at {index}")
    return groups, index + 1


def _version_key(filename: str, keys: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(project, version text) of a file, as ``filename_parts`` says; remembered in ``keys`` under a
    wheel name's ``project-version`` when ``filename_parts`` reads it by splitting alone (5 or 6
    parts, the first two not empty): every wheel with that prefix and as many parts has that key."""
    name, version = filename_parts(filename)
    key = name, "" if version is None else str(version)  # not cached by Version: 1.0 == 1.0.0, two groups
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) in (5, 6) and parts[0] and parts[1]:
        keys[f"{parts[0]}-{parts[1]}"] = key
    return key
