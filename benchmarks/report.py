"""What the benchmark measured, and the table made of it: tool variants, medians, ratios to uv."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Optional

# Variants of thoth-pip and uv: without bytecode compilation, and with a link mode given to
# both sides (uv's default on Linux is hardlink, thoth-pip's clone-else-copy).
LINK_MODES = ("copy", "hardlink")
EXTRA_INSTALL_TOOLS = tuple(
    f"{tool}{compile_}{link}" for compile_ in ("", "-nocompile") for link in ("", *(f"-{m}" for m in LINK_MODES))
    for tool in ("thoth-pip", "uv") if compile_ or link
)

def family(tool: str) -> str:
    """The program a tool variant runs: ``uv-nocompile-hardlink`` -> ``uv``."""
    for suffix in (*(f"-{m}" for m in LINK_MODES), "-nocompile"):
        tool = tool[: -len(suffix)] if tool.endswith(suffix) else tool
    return tool


def variant_link_mode(tool: str) -> Optional[str]:
    """The link mode a variant gives its tool (None: the tool's default)."""
    return next((m for m in LINK_MODES if tool.endswith(f"-{m}")), None)


@dataclass(frozen=True)
class Measure:
    """One run of a tool: exit code, wall seconds, CPU seconds (user + system, its process tree),
    and peak resident memory in MB (the largest single process of the tree)."""

    code: int
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Results:
    """Wall and CPU seconds per (benchmark, project, mode, tool), machine load, failed runs."""

    times: dict[tuple[str, str, str, str], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, str, str, str], list[float]] = field(default_factory=dict)
    rss: dict[tuple[str, str, str, str], list[float]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, key: tuple[str, str, str, str], measure: Measure) -> None:
        self.times.setdefault(key, []).append(measure.wall)
        self.cpu.setdefault(key, []).append(measure.cpu)
        self.rss.setdefault(key, []).append(measure.rss_mb)



def uv_counterpart(tool: str) -> str:
    """The uv run a tool is compared with: the same bytecode setting and link mode on both sides."""
    return "uv" + tool[len(family(tool)):]


def summary_rows(results: Results) -> list[list[str]]:
    """One row per measured (benchmark, project, mode, tool): wall median (min-max), CPU, peak RSS,
    and wall and CPU ratios to uv with the same bytecode setting."""
    rows = []
    for key, times in sorted(results.times.items(), key=lambda item: _order(item[0])):
        benchmark, project, mode, tool = key
        uv_key = (benchmark, project, mode, uv_counterpart(tool))
        median, cpu = statistics.median(times), statistics.median(results.cpu[key])
        rows.append([benchmark, project, mode, tool, f"{median:.2f}", f"{min(times):.2f}-{max(times):.2f}",
                     f"{cpu:.2f}", f"{max(results.rss[key]):.0f}", str(len(times)),
                     ratio(median, results.times.get(uv_key), tool), ratio(cpu, results.cpu.get(uv_key), tool)])
    return rows


def _order(key: tuple[str, str, str, str]) -> tuple[object, ...]:
    benchmark, project, mode, tool = key
    link = variant_link_mode(tool)
    return (benchmark, project, ("cold", "warm", "noop").index(mode), "-nocompile" in tool,
            LINK_MODES.index(link) + 1 if link else 0, family(tool) != "thoth-pip", tool)


def ratio(value: float, base: Optional[list[float]], tool: str) -> str:
    """``value`` over the median of uv's ``base`` measurements, as ``1.23x`` (below 1: faster than uv)."""
    if not base or tool.startswith("uv") or statistics.median(base) == 0:
        return ""
    return f"{value / statistics.median(base):.2f}x"


HEADER = ["benchmark", "project", "cache", "tool", "median s", "min-max s", "cpu s", "peak RSS MB", "runs",
          "wall tool/uv", "cpu tool/uv"]


def text_table(rows: list[list[str]]) -> str:
    """Rows aligned in columns for the terminal."""
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [HEADER, *rows])


def markdown(rows: list[list[str]], context: dict[str, object], failures: list[str]) -> str:
    """The results as a Markdown page: context, table, failures."""
    lines = ["# Benchmark results", ""]
    lines += [f"- {key}: {value}" for key, value in context.items()]
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "`wall tool/uv` is the tool's median wall time divided by uv's with the same bytecode setting",
              "and link mode (`*-nocompile` rows against `uv-nocompile`, `*-copy` against `uv-copy`,",
              "`*-hardlink` against `uv-hardlink`; rows without a link-mode suffix run each tool's default:",
              "thoth-pip's clone-else-copy against uv's hardlink): below 1, the tool is faster than uv. `cpu s` is the",
              "median user+system CPU time of the tool's processes (children included), which machine load",
              "disturbs less than wall time; `cpu tool/uv` its ratio. `peak RSS MB` is the largest resident",
              "size of one process of the tool's tree over the runs. `noop` runs the install again on the",
              "environment the warm run made.", ""]
    if failures:
        lines += ["## Failures", ""] + [f"- {f}" for f in failures] + [""]
    return "\n".join(lines)


