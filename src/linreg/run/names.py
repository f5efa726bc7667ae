"""A run's name, its folder's name and its progress line: the one home of their format.

A run is named by its choices, ``backend · loss · lr=… · ep=… · device``, then each other key
its sweep varies (``momentum=0.5``); its folder by the same parts, in characters every file system
takes (``torch-mse-lr=0.01-ep=100-cpu``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from linreg.run.record import RunRecord

SEPARATOR = " · "


def name_parts(
    backend: str,
    loss: str,
    lr: str,
    epochs: str,
    device: str,
    vary: Mapping[str, str] | None = None,
) -> list[str]:
    """backend, loss, lr, epochs, device, then each other key that varies in the sweep (by the
    last part of its dotted name).  ``loss`` is the loss as named (``huber δ=1``); ``lr`` and
    ``epochs`` are already written as numbers."""
    parts = [backend, loss, f"lr={lr}", f"ep={epochs}", device]
    return parts + [f"{k.split('.')[-1]}={v}" for k, v in (vary or {}).items()]


def loss_label(name: str, delta: str | None) -> str:
    """The loss in a run's name: huber carries its δ."""
    return name if name != "huber" else f"huber δ={delta}"


def run_name(parts: list[str]) -> str:
    return SEPARATOR.join(parts)


def folder_name(parts: list[str]) -> str:
    text = "-".join(parts).replace("δ", "delta")
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)


def progress_line(r: RunRecord, index: int | None = None, total: int | None = None) -> str:
    """One short line per run: index of N (``index`` 0-based), status, name, θ, error, seconds."""
    num = ""
    if index is not None:
        width = len(str(total or index + 1))
        num = f"[{index + 1:>{width}}/{total}] " if total else f"[{index + 1}] "
    if r.finished and r.bias is not None:
        ws = ", ".join(f"{w:.4f}" for w in r.weights[:3]) + (", …" if len(r.weights) > 3 else "")
        detail = f"w=[{ws}] b={r.bias:.4f}"
        if r.weight_error is not None:
            detail += f"  weight_error={r.weight_error:.2e}"
        detail += f"  {r.wall_s:.2f}s" + ("  (reused)" if r.reused_from else "")
    else:
        detail = r.reason or ""
    return fit_line(f"{num}{r.status:<8s} ", r.run_name, f"  {detail}")


def fit_line(head: str, name: str, tail: str, width: int = 160) -> str:
    """head + name + tail in ``width`` characters: the name shortened in its middle first, then
    the tail at its end (the whole reason is in result.json and MLflow)."""
    over = len(head) + len(name) + len(tail) - width
    if over > 0 and len(name) > 60:
        cut = min(over + 1, len(name) - 59)
        name = name[: (len(name) - cut) // 2] + "…" + name[(len(name) - cut) // 2 + cut :]
    line = head + name + tail
    return line if len(line) <= width else line[: width - 1] + "…"
