"""What a run needs in memory, checked before any work against what this machine holds.

A value that cannot fit (``epochs=1000000000``: a trajectory of tens of GB; ``n_samples`` in the
billions) is bad input like any other: one :class:`LinregError` naming the parameter and the
largest value that fits, raised before anything is allocated, rather than a MemoryError (or the
kernel's OOM killer) minutes into the run.  The estimates are deliberately rough, on the safe
side, and a run may use at most :data:`MEMORY_FRACTION` of the machine's memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import LinregError

MEMORY_FRACTION = 0.5  # of the machine's memory, for one run's data and trajectory
# Per epoch a trajectory holds loss, grad_norm, lr and theta = (b, w_0..w_{m-1}), float64.  The
# run keeps it, the backend's history arrays it came from, and its table (trajectory.csv) or its
# per-epoch tracking series: about three copies at the peak.
TRAJECTORY_COPIES = 3
# Per value of the training set beyond its float32 copy: the backend's float64 working copy and
# the evaluation's float64 design matrix [1, X]; the python backend holds a Python float per value.
WORKING_BYTES = {"python": 8 + 32}
DEFAULT_WORKING_BYTES = 8 + 8
GIB = 2**30


def machine_bytes() -> int:
    """The memory of this machine: physical memory, or the container's limit (cgroup) if lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def budget_bytes() -> int:
    """What one run may use: MEMORY_FRACTION of :func:`machine_bytes`."""
    return int(machine_bytes() * MEMORY_FRACTION)


def _where() -> str:
    share = "half" if MEMORY_FRACTION == 0.5 else f"{MEMORY_FRACTION:.0%}"
    return f"{share} of this machine's {machine_bytes() / GIB:.1f} GiB"


def trajectory_bytes(epochs: int, n_features: int) -> int:
    """Bytes of one trajectory: per epoch loss, grad_norm, lr and theta (m + 1), in float64."""
    return int(epochs) * (int(n_features) + 1 + 3) * 8


def data_bytes(n_samples: int, n_features: int, n_test: int = 0, backend: str = "numpy") -> int:
    """Bytes of a dataset held as float32 (X and y, train and test) and its working copies."""
    per_row = int(n_features) + 1
    working = WORKING_BYTES.get(backend, DEFAULT_WORKING_BYTES)
    return int(n_samples) * per_row * (4 + working) + int(n_test) * per_row * (4 + 8)


def run_bytes(epochs: int, n_features: int, data: int = 0) -> int:
    """A run's peak: its data (``data`` bytes) and TRAJECTORY_COPIES of its trajectory."""
    return data + TRAJECTORY_COPIES * trajectory_bytes(epochs, n_features)


def check_data_fits(
    n_samples: int, n_features: int, n_test: int = 0, backend: str = "numpy"
) -> int:
    """Raise naming the largest of ``n_samples``, ``n_features``, ``n_test`` and the largest value
    of it that fits if the data does not fit; return the data's bytes."""
    need = data_bytes(n_samples, n_features, n_test, backend)
    room = budget_bytes()
    if need <= room:
        return need
    sizes = {"n_samples": n_samples, "n_features": n_features, "n_test": n_test}
    key = max(sizes, key=lambda k: sizes[k])
    # the largest value of ``key`` that fits, the others as given (bytes grow linearly in each)
    at_zero = data_bytes(**{**sizes, key: 0}, backend=backend)
    per_unit = data_bytes(**{**sizes, key: 1}, backend=backend) - at_zero
    limit = max(0, (room - at_zero) // max(per_unit, 1))
    others = ", ".join(f"{k} = {v}" for k, v in sizes.items() if k != key)
    raise LinregError(
        key,
        f"an integer <= {limit} (the data, with {others}, must fit in {_where()})",
        sizes[key],
    )


def check_trajectory_fits(epochs: int, n_features: int, data: int = 0) -> None:
    """Raise naming ``epochs`` and the largest value that fits if the trajectory, beside ``data``
    bytes of data, would not fit."""
    room = budget_bytes() - data
    if run_bytes(epochs, n_features, data) <= budget_bytes():
        return
    per_epoch = TRAJECTORY_COPIES * trajectory_bytes(1, n_features)
    limit = max(0, room // per_epoch)
    with_data = f" beside the data's {data / GIB:.1f} GiB" if data >= GIB // 10 else ""
    raise LinregError(
        "epochs",
        f"an integer <= {limit} (the trajectory, {per_epoch} bytes an epoch with "
        f"n_features = {n_features}, must fit{with_data} in {_where()})",
        epochs,
    )
