"""Reading linreg's conf/: a group's choices and a config's leaves (dotted keys)."""

from __future__ import annotations

from linreg.config.paths import CONF_DIR

GROUPS = ("data", "loss", "backend", "device")


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def leaves(node, prefix: str = "") -> dict:
    """A nested mapping as {dotted key: value}; lists are values."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out |= leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out
