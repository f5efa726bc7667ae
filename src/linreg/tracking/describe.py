"""What MLflow shows about a run besides its numbers: the standard tags MLflow's UI reads (source,
user, git commit), the params that apply to the run, and a markdown description
(``mlflow.note.content``): one sentence on a run, the summary table and findings on a sweep."""

from __future__ import annotations

import functools
import getpass
import os
import subprocess

from linreg.config.paths import project_root
from linreg.config.typed import RunConfig
from linreg.present.findings import best_per_loss_and_backend, findings
from linreg.present.tables import md_table
from linreg.run.record import BEST, RunRecord, counts, frame

NOTE = "mlflow.note.content"  # the run's Description in MLflow's UI (markdown)
SOURCE = "linreg.train"  # every job runs in it: `linreg`, `python -m linreg.train`, DVC's stage
MAX_NOTE = 8000  # MLflow's longest tag value
NOTE_COLUMNS = ["run_name", "status", "bias", "w_0", "weight_error", "optimum_distance", "wall_s"]
# train.* keys that only one schedule reads, and the mini-batch order
SCHEDULE_KEYS = {
    "train.step_size": ("step",),
    "train.gamma": ("step", "exponential"),
    "train.eta_min": ("cosine",),
}


@functools.lru_cache(maxsize=1)
def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a name
        return None


def source_tags() -> dict:
    """MLflow's own tags for where a run comes from (its Source and User columns), and the DVC
    experiment that ran it (``dvc exp run``); None values are left out by the store."""
    from mlflow.entities import SourceType  # mlflow (~1.2 s to import): only when a run is recorded

    return {
        "mlflow.source.name": SOURCE,
        "mlflow.source.type": SourceType.to_string(SourceType.LOCAL),
        "mlflow.source.git.commit": git_commit(),
        "mlflow.user": _user(),
        "dvc_experiment": dvc_experiment(),
    }


def applicable_params(run: RunConfig) -> dict[str, str]:
    """The resolved config as params, less what does not apply to this run: ``loss.delta``
    unless the loss is huber, the data keys of the other data kind and unset ones (data.dir on
    data made in memory), a schedule's knobs under another schedule, the mini-batch order on
    full-batch runs, and unset tracking options."""
    s = run.settings
    keep = set(run.data.to_dict()) | {"kind"} | ({"dir"} if run.data_dir else set())
    out = {}
    for key, value in run.params.items():
        section, _, name = key.partition(".")
        if key == "loss.delta" and s.loss.name != "huber":
            continue
        if section == "data" and (name not in keep or value == "None"):
            continue
        if key in SCHEDULE_KEYS and s.schedule not in SCHEDULE_KEYS[key]:
            continue
        if key == "train.shuffle_seed" and s.batch_size is None:
            continue
        if section == "tracking" and value == "None":
            continue
        out[key] = value
    return out


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def run_note(rec: RunRecord) -> str:
    """One sentence: how the run ended, what it learned and how far that is from the truth and
    the optimum (or why it did not end ok)."""
    if rec.bias is None or rec.status in ("failed", "skipped"):
        return f"**{rec.status}**: {rec.reason or 'no reason recorded'}."
    ws = ", ".join(_num(w) for w in rec.weights[:5]) + (", …" if len(rec.weights) > 5 else "")
    errors = [f"‖θ − θ*‖ = {_num(rec.optimum_distance)} from the {rec.loss} optimum"]
    if rec.weight_error is not None:
        errors.append(f"weight error {_num(rec.weight_error)} against the truth")
    reached = (
        f"reached the optimum at epoch {rec.converged_epoch}"
        if rec.converged_epoch is not None
        else f"did not reach the optimum in {rec.epochs_run or rec.epochs} epochs"
    )
    why = f" ({rec.reason})" if rec.reason else ""
    return (
        f"**{rec.status}**{why}: learned b = {_num(rec.bias)}, w = [{ws}]; {reached}; "
        + ", ".join(errors)
        + "."
    )


def sweep_note(recs: list[RunRecord]) -> str:
    """A sweep's description: the counts, the best run per loss and backend (the report's
    summary table), the findings the numbers support, then every run while the note stays
    within MLflow's 8,000 characters of a tag (the UI shows the run's name above it)."""
    df = frame(recs)
    tally = ", ".join(f"{n} {status}" for status, n in counts(recs).items() if n)
    best = best_per_loss_and_backend(df)
    lines = [f"{len(recs)} runs: {tally}.", ""]
    if len(best):
        lines += ["**Best run per loss and backend**", "", md_table(best, NOTE_COLUMNS), ""]
        lines += [f"*Best: {BEST}.*", ""]
    lines += ["**Findings**", ""] + [f"- {f}" for f in findings(df)] + [""]
    every = ["**Every run**", "", md_table(df, NOTE_COLUMNS), ""]
    where = "The figures, `summary.csv` and `report.html` are under Artifacts."
    if sum(len(t) + 1 for t in lines + every + [where]) < MAX_NOTE:
        lines += every
    note = "\n".join([*lines, where])
    if len(note) < MAX_NOTE:
        return note
    cut = "\n\n… (the rest is in report.html, under Artifacts)"  # findings of a very long sweep
    return note[: note.rfind("\n", 0, MAX_NOTE - len(cut))] + cut


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def dvc_experiment() -> str | None:
    """The DVC experiment's name while ``dvc exp run`` runs this stage."""
    return os.environ.get("DVC_EXP_NAME") or None
