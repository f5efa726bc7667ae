"""The one place that decides which device a run uses."""

from __future__ import annotations

from .errors import UnsupportedCombination, check_choice

DEVICES = ("cpu", "cuda", "mps", "auto")


def available_devices() -> list[str]:
    """Devices torch can use on this machine, cpu first."""
    import torch  # torch: only when a device is looked for (the numpy path never loads it)

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str, backend: str = "torch") -> str:
    """Turn a device choice into the device a backend runs on, or say why it cannot run here.

    ``auto`` picks cuda, then mps, then cpu.  The numpy and python backends run on cpu alone.
    Raises :class:`UnsupportedCombination` (a sweep records it as skipped) for a device that is
    absent or that the backend cannot use.
    """
    check_choice("device", name, DEVICES)
    if backend != "torch":
        if name in ("cpu", "auto"):
            return "cpu"
        raise UnsupportedCombination(
            "device", f"cpu or auto for the {backend} backend (only torch runs on {name})", name
        )
    if name == "cpu":
        return "cpu"
    present = available_devices()
    if name == "auto":
        return present[-1] if "cuda" not in present else "cuda"
    if name not in present:
        raise UnsupportedCombination(
            "device", "a device present on this machine (" + ", ".join(present) + ")", name
        )
    return name
