"""Builds real wheels and sdists for tests, in memory (no binaries are checked in).

Sdists carry a tiny in-tree PEP 517 backend (``requires = []``), so ``pip wheel``
can build them with build isolation and no network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import textwrap
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


@dataclass
class Dist:
    """Description of one release of a test project."""

    name: str
    version: str
    requires_dist: Sequence[str] = ()
    requires_python: str | None = None
    extras: Sequence[str] = ()
    tag: str = "py3-none-any"
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    console_scripts: Mapping[str, str] = field(default_factory=dict)
    license: str | None = None
    classifiers: Sequence[str] = ()

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def dist_name(self) -> str:
        return self.module

    def metadata_text(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.license:
            lines.append(f"License: {self.license}")
        lines += [f"Classifier: {c}" for c in self.classifiers]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Provides-Extra: {e}" for e in self.extras]
        lines += [f"Requires-Dist: {r}" for r in self.requires_dist]
        return "\n".join(lines) + "\n\n"

    def payload(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {
            f"{self.module}/__init__.py": f'__version__ = "{self.version}"\n'.encode()
        }
        for path, content in self.files.items():
            files[path] = content.encode() if isinstance(content, str) else content
        return files

    @property
    def wheel_filename(self) -> str:
        return f"{self.dist_name}-{self.version}-{self.tag}.whl"

    @property
    def sdist_filename(self) -> str:
        return f"{self.dist_name}-{self.version}.tar.gz"


def build_wheel(dist: Dist, *, extra_members: Mapping[str, bytes] | None = None, record: bool = True) -> bytes:
    """The bytes of a valid wheel for ``dist`` (``extra_members`` lets tests make hostile ones)."""
    dist_info = f"{dist.dist_name}-{dist.version}.dist-info"
    members = dict(dist.payload())
    members[f"{dist_info}/METADATA"] = dist.metadata_text().encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: micro-thoth-tests\nRoot-Is-Purelib: true\nTag: {dist.tag}\n\n"
    ).encode()
    if dist.console_scripts:
        lines = ["[console_scripts]"] + [f"{k} = {v}" for k, v in dist.console_scripts.items()]
        members[f"{dist_info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    if extra_members:
        members.update(extra_members)
    buf = io.BytesIO()
    # ZIP_STORED and fixed dates: the same Dist gives the same bytes on every machine,
    # so committed golden locks keep matching digests.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        rows = []
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            rows.append(f"{path},{_record_hash(data)},{len(data)}")
        if record:
            rows.append(f"{dist_info}/RECORD,,")
            info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info, "\n".join(rows) + "\n")
    return buf.getvalue()


_BACKEND = textwrap.dedent(
    '''
    """A tiny PEP 517 backend for test sdists: builds a pure wheel from spec.json."""
    import base64, hashlib, json, os, zipfile

    HERE = os.path.dirname(os.path.abspath(__file__))
    ROOT = os.path.dirname(HERE)


    def _spec():
        with open(os.path.join(ROOT, "spec.json")) as fh:
            return json.load(fh)


    def _h(data):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


    def get_requires_for_build_wheel(config_settings=None):
        return []


    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        spec = _spec()
        info = os.path.join(metadata_directory, spec["dist_info"])
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w") as fh:
            fh.write(spec["metadata"])
        with open(os.path.join(info, "WHEEL"), "w") as fh:
            fh.write("Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\\n")
        return spec["dist_info"]


    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        spec = _spec()
        name = spec["dist_info"][: -len(".dist-info")] + "-py3-none-any.whl"
        members = {}
        for rel in spec["files"]:
            with open(os.path.join(ROOT, rel), "rb") as fh:
                members[rel] = fh.read()
        members[spec["dist_info"] + "/METADATA"] = spec["metadata"].encode()
        members[spec["dist_info"] + "/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\\n"
        rows = []
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for rel, data in members.items():
                zf.writestr(rel, data)
                rows.append("%s,%s,%d" % (rel, _h(data), len(data)))
            rows.append(spec["dist_info"] + "/RECORD,,")
            zf.writestr(spec["dist_info"] + "/RECORD", "\\n".join(rows) + "\\n")
        return name


    def build_sdist(sdist_directory, config_settings=None):
        raise RuntimeError("not supported")
    '''
)

_EDITABLE_HOOKS = textwrap.dedent(
    '''

    get_requires_for_build_editable = get_requires_for_build_wheel
    prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


    def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
        """PEP 660: a wheel whose .pth puts the source tree on sys.path."""
        spec = _spec()
        name = spec["dist_info"][: -len(".dist-info")] + "-py3-none-any.whl"
        members = {
            "_editable_" + spec["dist_info"].split("-")[0] + ".pth": (ROOT + "\\n").encode(),
            spec["dist_info"] + "/METADATA": spec["metadata"].encode(),
            spec["dist_info"] + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\\n",
        }
        rows = []
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for rel, data in members.items():
                zf.writestr(rel, data)
                rows.append("%s,%s,%d" % (rel, _h(data), len(data)))
            rows.append(spec["dist_info"] + "/RECORD,,")
            zf.writestr(spec["dist_info"] + "/RECORD", "\\n".join(rows) + "\\n")
        return name
    '''
)


def build_sdist(dist: Dist, *, editable: bool = False) -> bytes:
    """The bytes of an sdist whose in-tree backend builds ``dist`` as a pure wheel."""
    root = f"{dist.dist_name}-{dist.version}"
    payload = dist.payload()
    spec = {
        "dist_info": f"{dist.dist_name}-{dist.version}.dist-info",
        "metadata": dist.metadata_text(),
        "files": sorted(payload),
    }
    members: dict[str, bytes] = {f"{root}/{path}": data for path, data in payload.items()}
    members[f"{root}/PKG-INFO"] = dist.metadata_text().encode()
    members[f"{root}/spec.json"] = json.dumps(spec).encode()
    members[f"{root}/_backend/tinybackend.py"] = (_BACKEND + (_EDITABLE_HOOKS if editable else "")).encode()
    members[f"{root}/pyproject.toml"] = (
        b'[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["_backend"]\n'
    )
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
        for path, data in sorted(members.items()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1577836800
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
