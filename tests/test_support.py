"""The test index and builders behave like a real index (they underpin every other test)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import httpx

from tests.support.builder import Dist, build_wheel
from tests.support.index_server import JSON_TYPE


def test_wheel_is_valid_zip_with_record() -> None:
    data = build_wheel(Dist("Alpha", "1.0", requires_dist=["beta>=2"]))
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "alpha/__init__.py" in names
    assert "alpha-1.0.dist-info/RECORD" in names


def test_index_serves_html_json_metadata_and_ranges(index) -> None:
    (wheel,) = index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    with httpx.Client() as client:
        page = client.get(index.url + "alpha/")
        assert wheel.filename in page.text and "data-core-metadata" in page.text
        js = client.get(index.url + "alpha/", headers={"Accept": JSON_TYPE})
        assert json.loads(js.text)["files"][0]["hashes"]["sha256"] == wheel.sha256
        meta = client.get(f"{index.root}/files/{wheel.filename}.metadata")
        assert b"Requires-Dist: beta" in meta.content
        tail = client.get(f"{index.root}/files/{wheel.filename}", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == wheel.data[-10:]
        assert client.get(index.url + "missing/").status_code == 404
    assert "GET /simple/alpha/" in index.requests


def test_sdist_builds_offline_with_pip(index, tmp_path) -> None:
    (sdist,) = index.add(Dist("gamma", "2.0"), wheel=False, sdist=True)
    path = tmp_path / sdist.filename
    path.write_bytes(sdist.data)
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "-w", str(out), str(path)],
        check=True,
        capture_output=True,
    )
    assert [p.name for p in out.iterdir()] == ["gamma-2.0-py3-none-any.whl"]
