"""A run already done is not done again (``tracking.reuse``, on by default).

A run is keyed by everything that decides its result: its config (every key but where it is
recorded and the folder its data was read from), the digest of its data and the version of
linreg's code (a digest of the package's source files).  A finished run of the same store and
experiment with the same key (``ok`` or ``diverged``; never a failed, skipped or interrupted one)
has its files copied from the MLflow artifacts of the run that trained it (a reused run points
there too) into the new run's folder and its record taken over; the new MLflow run (a child of
this sweep, so the sweep covers every run) names that run in ``linreg.reused_from`` and carries
its final metrics; the per-epoch series stay on the run that trained.  Anything missing (a store
without the artifacts, an unreadable record) means the run trains as if new.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from linreg.run.record import RESULT, TRAJECTORY, RunRecord

KEY_TAG = "linreg.key"
FROM_TAG = "linreg.reused_from"
# where a run is recorded, and where its data was read from (what the data is: its digest)
NOT_IN_KEY = (
    "tracking.experiment",
    "tracking.uri",
    "tracking.reuse",
    "tracking.objective",
    "data.dir",
)
FILES_READ = (TRAJECTORY, "evaluation.json")  # what a run's readers read from its folder
OWN_FILES = ("config.yaml", "config")  # the new run's own (Hydra's files, as this job composed)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of linreg's source: any change to the code that trains, evaluates or records a
    run is a new version (a commit that touches only docs is not)."""
    root = Path(__file__).resolve().parents[1]  # the linreg package, every layer of it
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_key(params: dict[str, str], data_digest: str) -> str:
    """The key of a run: its config (``params``: the flat config), its data and the code."""
    what = {k: v for k, v in params.items() if k not in NOT_IN_KEY}
    blob = json.dumps([what, data_digest, code_version()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def find(store, key: str) -> str | None:
    """The newest finished run of ``store``'s experiment with this key that trained (ok or
    diverged); None if there is none."""
    runs = store.client.search_runs(
        [store.experiment_id],
        f"tags.`{KEY_TAG}` = '{key}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    for run in runs:
        if run.data.tags.get("status") in ("ok", "diverged"):
            return run.data.tags.get(FROM_TAG) or run.info.run_id  # the run that trained
    return None


def adopt(store, key: str, out: Path) -> RunRecord | None:
    """The record of the finished run with ``key``, its files copied into ``out``; None when
    there is none to reuse."""
    earlier = find(store, key)
    if earlier is None:
        return None
    import mlflow.artifacts  # its progress bar is off (linreg.tracking.store)

    with tempfile.TemporaryDirectory(dir=out) as tmp:
        try:
            got = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=earlier, dst_path=tmp, tracking_uri=store.uri
                )
            )
            rec = RunRecord.read(got)
        except Exception:  # no artifacts there (a store moved, mlruns/ removed): train anew
            return None
        if not all((got / name).is_file() for name in FILES_READ):  # some were removed: train anew
            return None
        for item in got.iterdir():
            if item.name in OWN_FILES:
                continue
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(str(item), target)
    (out / RESULT).unlink()  # written again, last, as the new run's record
    rec.reused_from = earlier
    return rec
