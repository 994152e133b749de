"""``thoth-pip env``: the runtime environment a lock or an install is for, and where each value came from."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...console import Console
from ...errors import UsageError
from ...pipeline.environment import show_environment
from ...settings import Settings


def _pair(text: Optional[str], flag: str) -> tuple[Optional[str], Optional[str]]:
    """``NAME:VERSION`` (version optional)."""
    if not text:
        return (None, None)
    name, _, version = text.partition(":")
    if not name:
        raise UsageError(f"{flag} {text!r} is not NAME[:VERSION]")
    return (name, version or None)


def overrides_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The flags given, as RuntimeEnvironment keys (None: not given)."""
    from ...environment.config import parse_labels

    os_name, os_version = _pair(options.pop("os"), "--os")
    libc_family, libc_version = _pair(options.pop("libc"), "--libc")
    labels = options.pop("labels")
    values = dict(options, os_name=os_name, os_version=os_version, libc_family=libc_family,
                  libc_version=libc_version, labels=parse_labels(labels) if labels else None)
    return {key: value for key, value in values.items() if value is not None}


def runtime_options(func: Any) -> Any:
    """The flags that override a runtime environment value (shared with lock and install)."""
    options = [
        click.option("--runtime-environment", "runtime_environment", metavar="NAME",
                     help="The .thoth.yaml entry to use (default: THAMOS_RUNTIME_ENVIRONMENT, else the first)."),
        click.option("--python-version", help="Target Python version, e.g. 3.9."),
        click.option("--platform", help="Target platform as sysconfig spells it, e.g. linux-x86_64."),
        click.option("--os", metavar="NAME[:VERSION]", help="Target operating system, e.g. rhel:8."),
        click.option("--libc", metavar="FAMILY:VERSION", help="Target C library, e.g. glibc:2.28 or musl:1.2."),
        click.option("--cuda-version", help="Target CUDA version, e.g. 12.2."),
        click.option("--cudnn-version", help="Target cuDNN version."),
        click.option("--cpu-family", type=int, help="Target CPU family (as /proc/cpuinfo)."),
        click.option("--cpu-model", type=int, help="Target CPU model (as /proc/cpuinfo)."),
        click.option("--gpu-model", help="Target GPU model."),
        click.option("--base-image", help="Container base image the application runs in."),
        click.option("--recommendation-type", help="latest, stable, performance, security or testing."),
        click.option("--labels", metavar="K=V;K2=V2", help="Labels for prescriptions, merged over the config's."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("env")
@click.option("-C", "--directory", metavar="DIR", help="Project directory (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@runtime_options
def command(directory: Optional[str], as_json: bool, runtime_environment: Optional[str], **options: Any) -> None:
    """Show the runtime environment: detected, overlaid by .thoth.yaml, overlaid by flags."""
    console = Console()
    settings = Settings.from_sources({"directory": directory, "json": as_json}, os.environ)
    selected = show_environment(settings.project_dir, environ=os.environ, name=runtime_environment,
                                overrides=overrides_from_options(options), reporter=console)
    if as_json:
        console.json(selected.to_dict())
        return
    console.table(["key", "value", "origin"], selected.environment.describe())
    console.info(f"overlay directory: {selected.overlay_dir}")
