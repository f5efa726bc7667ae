"""What every benchmark module shares: the Row it reports, timing helpers, the machine's
description, the ratio table and the RESULTS.md writer.

A benchmark module exposes ``run(quick: bool) -> list[Row]`` and, optionally,
``notes(rows) -> str``: markdown that RESULTS.md prints under the module's heading.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Row:
    """One measured figure against its baseline.

    ``ratio`` is value / baseline unless given; ``target`` (None: informative) is the largest
    ratio allowed.  ``value`` None means not measured here; ``note`` says why.
    """

    name: str
    value: float | None
    baseline: float | None
    ratio: float | None = None
    target: float | None = None
    note: str = ""
    unit: str = "ms"
    baseline_name: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.baseline:
            self.ratio = self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "skipped"
        if self.target is None:
            return ""
        return "met" if self.ratio is not None and self.ratio <= self.target else "NOT met"


# --- timing ---------------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls, in seconds (for a bandwidth: the machine's best)."""
    return min(timed(fn)[0] for _ in range(repeat))


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def paired(measure: Callable[[], tuple[float, float]], repeat: int) -> tuple[float, float, float]:
    """Run ``measure() -> (value, baseline)`` ``repeat`` times, side by side.

    Returns (median value, median baseline, median of the per-pair ratios): each ratio compares
    two figures taken a moment apart, so drift of a shared machine cancels.
    """
    pairs = [measure() for _ in range(repeat)]
    return (
        median([v for v, _ in pairs]),
        median([b for _, b in pairs]),
        median([v / b for v, b in pairs]),
    )


def read_bandwidth(X: np.ndarray, repeat: int = 3) -> tuple[float, str]:
    """Bytes per second of the fastest full read of ``X`` we can do here, and how it was done.

    Candidates: numpy's sum over the flat array (one thread) and torch's sum (its threads); the
    best one is the machine's read bandwidth for the one-read bound.
    """
    found = read_bandwidths(X, repeat)
    how = max(found, key=found.get)
    return found[how], how


def read_bandwidths(X: np.ndarray, repeat: int = 3) -> dict[str, float]:
    """Bytes per second of each candidate full read of ``X`` (best of ``repeat``)."""
    flat = X.reshape(-1)
    candidates = {"numpy sum": lambda: flat.sum()}
    try:
        import torch

        t = torch.from_numpy(flat)
        candidates[f"torch sum ({torch.get_num_threads()} threads)"] = lambda: t.sum()
    except ImportError:  # pragma: no cover
        pass
    return {name: X.nbytes / best(fn, repeat) for name, fn in candidates.items()}


# --- the machine ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    info: dict[str, str] = {}
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    info["cpu"] = f"{cpu}, {cores} cores available"
    try:
        caches = []
        for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            level = (idx / "level").read_text().strip()
            kind = (idx / "type").read_text().strip()
            size = (idx / "size").read_text().strip()
            if kind != "Instruction":
                caches.append(f"L{level} {size}")
        if caches:
            info["caches (per core / shared)"] = ", ".join(caches)
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    blas = ""
    try:
        from threadpoolctl import threadpool_info

        libs = [
            f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
            f"{d.get('num_threads')} threads)"
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
        blas = "; BLAS " + ", ".join(libs) if libs else ""
    except ImportError:
        pass
    info["numpy"] = f"{np.__version__}{blas}"
    try:
        import torch

        blas_info = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        info["torch"] = f"{torch.__version__} ({blas_info}, {torch.get_num_threads()} threads)"
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info["gpu"] = f"{p.name}, {p.total_memory / 2**30:.0f} GiB"
        else:
            info["gpu"] = "none"
    except ImportError:
        info["torch"] = "not installed"
    return info


# --- output ---------------------------------------------------------------------------------------


def fmt(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if unit == "ms" and abs(x) < 1:
        return f"{x * 1000:.3g} µs"
    if unit == "ms":
        return f"{x:.4g} ms"
    if unit in ("s", "GiB", "GB/s"):
        return f"{x:.3g} {unit}"
    return f"{x:.4g}{(' ' + unit) if unit else ''}"


def table(rows: Sequence[Row], markdown: bool = False) -> str:
    head = ["benchmark", "measured", "baseline", "ratio", "target", "verdict", "note"]
    body = []
    for r in rows:
        base = fmt(r.baseline, r.unit)
        if r.baseline_name and r.baseline is not None:
            base = f"{base} ({r.baseline_name})"
        body.append(
            [
                r.name,
                fmt(r.value, r.unit),
                base,
                "-" if r.ratio is None else f"{r.ratio:.2f}x",
                "-" if r.target is None else f"<= {r.target:g}x",
                r.verdict or "-",
                r.note,
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)
    ]
    widths[-1] = len(head[-1])  # the note runs on
    fmt_row = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt_row.format(*head), fmt_row.format(*("-" * w for w in widths))]
    out += [fmt_row.format(*row) for row in body]
    return "\n".join(out)


def write_results(
    sections: list[tuple[str, str, list[Row], str]],
    seconds: float,
    command: str,
    path: Path = RESULTS,
) -> Path:
    """RESULTS.md: the machine, the ratio table, then each module's notes.

    ``sections`` holds (module name, its docstring's first line, its rows, its notes).
    """
    rows = [r for _, _, rs, _ in sections for r in rs]
    met = sum(r.verdict == "met" for r in rows)
    missed = [r.name for r in rows if r.verdict == "NOT met"]
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    out = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {when}, in {seconds / 60:.1f} minutes; rerun it to refresh "
        "this file (do not edit it by hand).  Every ratio compares two figures measured side by "
        "side in the same run, since absolute times drift on a shared machine.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        "",
        "## Ratios",
        "",
        f"{met} target(s) met, {len(missed)} not met"
        + (f" ({', '.join(missed)}; see below for the measured reason)" if missed else "")
        + ".",
        "",
        table(rows, markdown=True),
        "",
    ]
    for name, doc, _, notes in sections:
        if notes:
            out += [f"## {name}: {doc}" if doc else f"## {name}", "", notes.strip(), ""]
    path.write_text("\n".join(out))
    return path
