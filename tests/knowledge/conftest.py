"""Fixtures for the knowledge tests: the in-process CLI runner of the pipeline tests."""

from __future__ import annotations

from tests.pipeline.conftest import Run, thoth

__all__ = ["Run", "thoth"]
