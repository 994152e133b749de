"""The merged runtime environment (detected, then .thoth.yaml, then flags) and its Target."""

from __future__ import annotations

from .target import (
    compatible_tags,
    make_target,
    marker_environment,
    platform_tags,
    target_for_interpreter,
)

__all__ = [
    "compatible_tags",
    "make_target",
    "marker_environment",
    "platform_tags",
    "target_for_interpreter",
]
