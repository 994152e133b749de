"""Writing one wheel file with pypa/installer, every file told to the transaction first."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme

from ..errors import InstallError
from .environment import TargetEnvironment
from .planning import WantedPackage, direct_url_data
from .safety import inside
from .transaction import Transaction

INSTALLER_NAME = b"thoth-pip\n"


class RecordingDestination(SchemeDictionaryDestination):
    """installer's destination that tells the transaction about every file before writing it.

    An explicit ``__init__`` (not a dataclass field): installer 1.x makes the base a
    dataclass, the 0.7 series (Python 3.9) a plain class; this works with both.
    """

    def __init__(self, *, transaction: Optional[Transaction] = None, **options: Any) -> None:
        super().__init__(**options)
        self.transaction = transaction

    def write_file(
        self, scheme: Scheme, path: Union[str, os.PathLike[str]], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        """As installer's, but a file of ``.data/scripts`` is always made executable (as uv does)."""
        return super().write_file(scheme, path, stream, is_executable or scheme == "scripts")

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        assert self.transaction is not None
        self.transaction.will_write(inside(self.scheme_dict[scheme], path))
        return super().write_to_fs(scheme, path, stream, is_executable)


def destination_for(env: TargetEnvironment, distribution: str, transaction: Transaction) -> RecordingDestination:
    return RecordingDestination(
        scheme_dict=env.scheme_for(distribution),
        interpreter=env.python,
        script_kind="posix",
        hash_algorithm="sha256",
        bytecode_optimization_levels=(),
        transaction=transaction,
    )


def additional_metadata(wanted: WantedPackage) -> dict[str, bytes]:
    extra = {"INSTALLER": INSTALLER_NAME}
    if wanted.direct is not None:
        extra["direct_url.json"] = json.dumps(direct_url_data(wanted.direct), sort_keys=True).encode()
    if wanted.requested:
        extra["REQUESTED"] = b""
    return extra


def install_wheel(wanted: WantedPackage, wheel: Path, env: TargetEnvironment, transaction: Transaction) -> None:
    with zipfile.ZipFile(wheel) as archive:
        source = WheelFile(archive)
        destination = destination_for(env, source.distribution, transaction)
        try:
            installer.install(source, destination, additional_metadata(wanted))
        except (InstallerError, ValueError, OSError, KeyError) as exc:
            raise InstallError(f"installing {wheel.name} failed: {exc}", distribution=wanted.name) from exc
