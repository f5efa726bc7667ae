"""A run's name and its folder's name: the one home of their format.

A run is named by its choices, ``backend · loss · lr=… · ep=… · device``, then each other key
its sweep varies (``momentum=0.5``); its folder by the same parts, in characters every file system
takes (``torch-mse-lr=0.01-ep=100-cpu``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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
