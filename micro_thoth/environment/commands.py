"""Running the machine's tools (nvcc, ldd...): their answers remembered while the tool and its environment stay the same.

A tool's answer is kept under the user cache dir, keyed by the command line, the
tool's resolved path and its stat (size, mtime_ns, inode, device) and the
environment variables that can change what it prints, so a new toolkit, a
switched symlink or another PATH is seen at once; for a wrapper script, also the
whole environment and the files the script names. Tools that report a driver's
or a bus's live state (nvidia-smi, rocm-smi, lspci) always run. A missing or
damaged memo, or ``refresh``, runs the tool again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Optional

from ..cache import file_stamp, memo_path, read_memo, write_memo

COMMAND_TIMEOUT = 3.0
TOOL_ANSWERS = "machine-tools-v1"  # cache bucket: what a tool printed, by its file's stat and environment
LIVE_TOOLS = frozenset({"nvidia-smi", "rocm-smi", "lspci"})  # the driver or the bus can change under the same binary
KEY_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "CUDA_HOME", "CUDA_PATH", "LANG", "LC_ALL", "LC_MESSAGES")


class CommandResult(NamedTuple):
    """What a command printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str]], Optional[CommandResult]]


def subprocess_runner(environ: Mapping[str, str], timeout: float = COMMAND_TIMEOUT, *,
                      cache_dir: Optional[Path] = None, refresh: bool = False) -> Runner:
    """A runner using ``environ`` (its PATH finds the tools); None when missing or too slow.
    With ``cache_dir``, a tool's answer is remembered (see the module); ``refresh`` asks again."""
    env = dict(environ)

    def run(argv: Sequence[str]) -> Optional[CommandResult]:
        executable = shutil.which(argv[0], path=env.get("PATH", os.defpath)) if argv else None
        if executable is None:
            return None  # what running it would conclude, without starting a process
        memo = _memo_path(cache_dir, argv, executable, env)
        if memo is not None and not refresh:
            remembered = _answer(read_memo(memo))
            if remembered is not None:
                return remembered
        result = _run(argv, env, timeout)
        if memo is not None and result is not None:
            write_memo(memo, list(result))
        return result

    return run


def _run(argv: Sequence[str], env: dict[str, str], timeout: float) -> Optional[CommandResult]:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, errors="replace",
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def _memo_path(cache_dir: Optional[Path], argv: Sequence[str], executable: str,
               env: Mapping[str, str]) -> Optional[Path]:
    """Where this command's answer is remembered; None when it must run (no cache, a live tool)."""
    if cache_dir is None or os.path.basename(argv[0]) in LIVE_TOOLS:
        return None
    resolved = os.path.realpath(executable)
    stamp = file_stamp(resolved)
    if not stamp:
        return None
    parts = [list(argv), resolved, *stamp,
             [env.get(name) for name in KEY_VARIABLES], _script_inputs(resolved, stamp[0], env)]
    return memo_path(cache_dir, TOOL_ANSWERS, parts)


_ABSOLUTE_PATH = re.compile(r"/[\w.+@%,:/-]+")
SCRIPT_LIMIT = 64 << 10


def _script_inputs(path: str, size: int, env: Mapping[str, str]) -> Optional[list[Any]]:
    """A wrapper script (``#!``) picks a toolkit by its environment or exec's another file: then the
    whole environment and the stat of every absolute path the script names are part of the key."""
    if size > SCRIPT_LIMIT:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(SCRIPT_LIMIT)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    named = sorted(set(_ABSOLUTE_PATH.findall(head.decode("utf-8", "replace"))))
    return [sorted(env.items()), [[name, *file_stamp(name)] for name in named]]


def _answer(remembered: object) -> Optional[CommandResult]:
    """A remembered answer, if it has a command result's shape (else the tool runs again)."""
    if isinstance(remembered, list) and len(remembered) == 3:
        returncode, stdout, stderr = remembered
        if isinstance(returncode, int) and isinstance(stdout, str) and isinstance(stderr, str):
            return CommandResult(returncode, stdout, stderr)
    return None
