"""The dataclasses' generated methods compiled once: the same methods as the built-in ``exec`` makes."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from micro_thoth.cli import dataclass_code


def _make() -> Any:
    @dataclasses.dataclass(frozen=True)
    class Pin:
        name: str
        version: str = "1"
        extras: tuple[str, ...] = ()
        note: Optional[str] = dataclasses.field(default=None, compare=False)

    return Pin


def _methods(cls: Any) -> dict[str, Any]:
    return {n: getattr(cls, n) for n in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh table in tmp_path, installed for the test and removed after it."""
    path = tmp_path / "dataclass-code.marshal"
    monkeypatch.setattr(dataclass_code, "table_path", lambda: str(path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    was = dataclass_code._table
    dataclass_code.uninstall()
    yield path
    dataclass_code.uninstall()
    if was is not None:
        dataclass_code.install()


def test_same_methods_as_the_builtin_exec(table: Path) -> None:
    plain = _methods(_make())
    dataclass_code.install()
    compiled = _make()  # compiled by the table's exec
    assert dataclass_code._table is not None and dataclass_code._table.grew
    dataclass_code._table.save()
    dataclass_code.uninstall()
    dataclass_code.install()
    cached = _make()  # every text found in the table read back
    assert dataclass_code._table is not None and not dataclass_code._table.grew
    for made in (_methods(compiled), _methods(cached)):
        for name, method in made.items():
            assert method.__code__ == plain[name].__code__, name
            assert method.__annotations__ == plain[name].__annotations__, name  # no __future__ flag inherited
    pin = cached("a", extras=("x",))
    assert pin == cached("a", "1", ("x",), note="other") and hash(pin) == hash(cached("a", extras=("x",)))
    assert repr(pin).endswith("Pin(name='a', version='1', extras=('x',), note=None)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pin.name = "b"


def test_a_table_that_cannot_be_read_is_empty_and_rewritten(table: Path) -> None:
    table.write_bytes(b"not marshal data")
    dataclass_code.install()
    _make()
    assert dataclass_code._table is not None and dataclass_code._table.grew
    dataclass_code._table.save()
    assert dataclass_code._read(str(table))  # written back, readable


def test_nothing_written_without_bytecode_or_when_nothing_grew(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataclass_code.install()
    assert dataclass_code._table is not None
    dataclass_code._table.save()
    assert not table.exists()  # nothing compiled yet: nothing to write
    _make()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    dataclass_code._table.save()
    assert not table.exists()  # PYTHONDONTWRITEBYTECODE: Python writes no bytecode, nor do we


def test_install_is_idempotent_and_uninstall_restores_the_builtin(table: Path) -> None:
    dataclass_code.install()
    first = dataclass_code._table
    dataclass_code.install()
    assert dataclass_code._table is first
    dataclass_code.uninstall()
    assert "exec" not in vars(dataclasses)


def test_a_table_damaged_on_disk_or_of_another_build_is_not_used(table: Path) -> None:
    dataclass_code.install()
    _make()
    assert dataclass_code._table is not None
    dataclass_code._table.save()
    data = table.read_bytes()
    at = data.rfind(b"(name=")  # a constant of __repr__'s code object (its text comes before it)
    assert at > 0
    damaged = data[:at] + b"(nane=" + data[at + 6 :]  # one byte changed: still a valid marshal
    for written in (damaged, bytes([data[0] ^ 1]) + data[1:]):  # a damaged code object; another magic number
        table.write_bytes(written)
        dataclass_code.uninstall()
        dataclass_code.install()
        pin = _make()("a")
        assert dataclass_code._table is not None and dataclass_code._table.grew  # compiled again
        assert repr(pin).endswith("Pin(name='a', version='1', extras=(), note=None)")
