"""One run of the pipeline: train, evaluate, write the run folder, record it in MLflow.

Whatever happens, the run ends in one of four states and says so in ``result.json`` (written last,
atomically: a folder without it is an interrupted run) and in its MLflow run, which is never left
RUNNING: ``ok``, ``diverged`` (trajectory kept up to the blow-up), ``skipped`` (the combination
cannot run here: numpy on cuda, an absent device) or ``failed`` (an exception; MLflow status
FAILED, the error in ``error.txt``).  A failure never escapes, so the sweep goes on.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from . import figures, graphs
from .config import Job
from .core.backends import fit
from .core.data import Dataset, DataSpec, generate
from .core.datafiles import load_csv, load_dataset, write_json_atomic
from .core.device import resolve_device
from .core.errors import UnsupportedCombination
from .core.evaluation import evaluate, optimum
from .tracking import dvc_experiment, git_commit, open_store, resolve_uri

RESULT = "result.json"
MAX_LOGGED_WEIGHTS = 10  # above this, the per-epoch weights are logged as their norm
_warned_no_dot = False


def data_spec_dict(job: Job) -> dict:
    kind = "synthetic" if isinstance(job.data, DataSpec) else "csv"
    return {"kind": kind, **job.data.to_dict()}


@functools.lru_cache(maxsize=4)
def _load(data_dir: str | None, spec_json: str) -> Dataset:
    spec = json.loads(spec_json)
    if data_dir:
        return load_dataset(data_dir, expect_spec=spec)
    kind = spec.pop("kind")
    if kind == "synthetic":
        return generate(DataSpec(**spec))
    from .core.datafiles import CsvSpec

    return load_csv(CsvSpec(**spec))


def load_data(job: Job) -> Dataset:
    """The job's data: read from ``data.dir`` (checked against the spec) or made in memory.
    Cached, so the runs of a sweep in one process share one copy."""
    return _load(job.data_dir, json.dumps(data_spec_dict(job), sort_keys=True))


_OPTIMA: dict = {}


def cached_optimum(data: Dataset, loss) -> np.ndarray:
    """The exact optimum, solved once per (data, loss) in a process: one serves every run."""
    key = (data.digest, loss)
    if key not in _OPTIMA:
        _OPTIMA[key] = optimum(loss, data.X, data.y)
    return _OPTIMA[key]


def base_result(job: Job) -> dict:
    s = job.settings
    return {
        "run_name": job.run_name,
        "run_folder": job.run_folder,
        "backend": job.backend,
        "device": s.device,
        "loss": s.loss.name,
        "delta": s.loss.delta,
        "lr": s.lr,
        "epochs": s.epochs,
        "momentum": s.momentum,
        "batch_size": s.batch_size,
        "schedule": s.schedule,
        "dtype": s.dtype,
        "status": "failed",
        "reason": None,
        "mlflow_run_id": None,
    }


def execute(job: Job, out_dir: str | Path, job_num: int | None = None) -> dict:
    """Run ``job`` into ``out_dir``; returns (and writes) its result.  Never raises."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULT).unlink(missing_ok=True)
    result = base_result(job)
    store = run_id = None
    started = time.perf_counter()
    try:
        store = open_store(resolve_uri(job.tracking["uri"]), job.tracking["experiment"])
        run_id = store.start_run(
            job.run_name,
            job.tracking.get("parent_run_id"),
            tags={
                "backend": job.backend,
                "loss": job.settings.loss.name,
                "device": job.settings.device,
                "dtype": job.settings.dtype,
                "git_commit": git_commit(),
                "dvc_experiment": dvc_experiment(),
                "status": "running",
            },
        )
        result["mlflow_run_id"] = run_id
        store.log_params(run_id, job.params)
        data = load_data(job)
        result["data_digest"] = data.digest
        result["theta_true"] = None if data.theta_true is None else data.theta_true.tolist()
        store.set_tags(run_id, {"data_digest": data.digest[:16]})
        try:
            resolve_device(job.settings.device, job.backend)
        except UnsupportedCombination as err:
            result.update(status="skipped", reason=str(err))
            return result
        trajectory = fit(data.X, data.y, data.theta0, job.settings, job.backend)
        theta_opt = cached_optimum(data, job.settings.loss)
        ev = evaluate(trajectory.theta_final, data, job.settings.loss, trajectory, theta_opt)
        result.update(summarise(trajectory, ev))
        result["status"] = trajectory.status
        if trajectory.status == "diverged":
            result["reason"] = f"loss exploded at epoch {trajectory.diverged_at}"
        files = write_run_files(out, job, data, trajectory, ev)
        log_run(store, run_id, job, data, trajectory, ev, result, out, files)
    except Exception as err:  # recorded, never raised: the sweep goes on
        keep = {k: result.get(k) for k in ("mlflow_run_id", "data_digest", "theta_true")}
        result = {
            **base_result(job),
            **keep,
            "status": "failed",
            "reason": f"{type(err).__name__}: {err}",
        }
        (out / "error.txt").write_text(traceback.format_exc())
        if store is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the error itself is already recorded
                store.log_artifact(run_id, out / "error.txt")
    finally:
        result["job_s"] = time.perf_counter() - started
        write_json_atomic(out / RESULT, _jsonable(result))
        if store is not None and run_id is not None:
            _close(store, run_id, result)
        print(progress_line(result, job_num), flush=True)
    return result


def _close(store, run_id: str, result: dict) -> None:
    status = "FAILED" if result["status"] == "failed" else "FINISHED"
    try:
        tags = {"status": result["status"]}
        if result.get("reason"):
            tags["reason"] = result["reason"][:5000]
        store.set_tags(run_id, tags)
    finally:
        store.end_run(run_id, status)


def summarise(traj, ev) -> dict:
    """The flat numbers of a run: learned parameters, errors, losses, timing."""
    out = {
        "bias": ev.bias,
        **{f"w_{j}": w for j, w in enumerate(ev.weights)},
        "bias_error": ev.bias_error,
        "weight_error": ev.weight_error,
        "theta_error": ev.theta_error,
        "optimum_distance": ev.optimum_distance,
        "statistical_error": ev.statistical_error,
        "train_loss": ev.train_loss,
        "optimum_loss": ev.optimum_loss,
        "test_mse": ev.test_mse,
        "r2_train": ev.r2_train,
        "r2_test": ev.r2_test,
        "converged_epoch": ev.converged_epoch,
        "epochs_run": traj.epochs_run,
        "wall_s": traj.wall_s,
        "time_per_epoch_s": traj.time_per_epoch_s,
        "final_grad_norm": _last(traj.grad_norm),
    }
    return out


def _last(a):
    return float(a[-1]) if len(a) else None


def trajectory_table(traj, m: int):
    import pandas as pd

    cols = {"epoch": np.arange(traj.epochs_run), "loss": traj.loss}
    for j, label in enumerate(figures.param_labels(m)):
        cols[label] = traj.theta[:, j]
    cols["grad_norm"] = traj.grad_norm
    cols["lr"] = traj.lr
    return pd.DataFrame(cols)


def write_run_files(out: Path, job: Job, data: Dataset, traj, ev) -> list[Path]:
    """The run folder: trajectory table, evaluation, graph, figures."""
    global _warned_no_dot
    m = data.n_features
    files = []
    table = trajectory_table(traj, m)
    table.to_csv(out / "trajectory.csv", index=False)
    files.append(out / "trajectory.csv")
    (out / "evaluation.json").write_text(json.dumps(_jsonable(ev.to_dict()), indent=2))
    files.append(out / "evaluation.json")
    if job.tracking.get("graph", True):
        if job.backend == "torch":
            dot = graphs.torch_dot(data.X, data.y, data.theta0, job.settings.loss)
        else:
            dot = graphs.formula_dot(job.backend, job.settings.loss, len(data.y), m)
        files += graphs.write_graph(out, dot)
        if (
            not graphs.dot_available()
            and not _warned_no_dot
            and not job.tracking.get("parent_run_id")
        ):
            warnings.warn(graphs.INSTALL_HINT, stacklevel=1)
            _warned_no_dot = True
    if job.tracking.get("figures", True) and traj.epochs_run:
        truth = data.theta_true
        theta_hist = (
            np.array([data.to_original_units(t) for t in traj.theta])
            if (data.feature_mean is not None)
            else traj.theta
        )
        files.append(figures.loss_curve(out / "loss.png", traj.loss, job.run_name, ev.optimum_loss))
        files.append(figures.param_trajectory(out / "params.png", theta_hist, truth, job.run_name))
        if m == 1:
            theta = np.array([ev.bias, *ev.weights])
            X_raw = (
                data.X
                if data.feature_mean is None
                else (data.X * data.feature_scale + data.feature_mean)
            )
            files.append(
                figures.data_fit(out / "fit.png", X_raw, data.y, theta, truth, job.run_name)
            )
    return files


def step_series(traj, m: int) -> dict[str, np.ndarray]:
    series = {"loss": traj.loss, "bias": traj.theta[:, 0]}
    if m <= MAX_LOGGED_WEIGHTS:
        for j in range(m):
            series[f"w_{j}"] = traj.theta[:, j + 1]
    else:
        series["weight_norm"] = np.linalg.norm(traj.theta[:, 1:], axis=1)
    series["grad_norm"] = traj.grad_norm
    if len(set(traj.lr.tolist())) > 1:
        series["lr"] = traj.lr
    return series


def log_run(store, run_id, job: Job, data: Dataset, traj, ev, result, out: Path, files) -> None:
    m = data.n_features
    finals = {
        k: v
        for k, v in result.items()
        if isinstance(v, int | float)
        and not isinstance(v, bool)
        and k not in ("lr", "epochs", "momentum", "batch_size")
    }
    finals = {
        (f"learned_{k}" if k == "bias" or k.startswith("w_") else k): v for k, v in finals.items()
    }
    store.log_metrics(run_id, finals)
    store.log_steps(run_id, step_series(traj, m))
    for f in files:
        store.log_artifact(run_id, f)
    hydra_dir = out / ".hydra"
    if hydra_dir.is_dir():  # Hydra's own record: the composed config and the overrides
        store.log_artifacts(run_id, hydra_dir, "config")
    if (out / "config.yaml").is_file():  # the resolved config, as the run used it
        store.log_artifact(run_id, out / "config.yaml")
    import pandas as pd

    df = pd.DataFrame(data.X, columns=data.feature_names)
    df[data.target_name] = data.y
    source = {"made_by": "linreg.core.data", "kind": data.spec.get("kind")}
    if job.data_dir:
        source["dir"] = str(Path(job.data_dir).resolve())
    if data.spec.get("kind") == "csv":
        source["csv"] = str(Path(data.spec["path"]).resolve())
    store.log_dataset(
        run_id,
        df,
        name=f"{data.spec.get('kind', 'data')}-{data.digest[:8]}",
        digest=data.digest,
        source=source,
        context="training",
    )


def progress_line(result: dict, job_num: int | None) -> str:
    num = f"#{job_num:<3d} " if job_num is not None else ""
    status = result["status"]
    if status in ("ok", "diverged") and "bias" in result:
        ws = [result[k] for k in sorted(k for k in result if k.startswith("w_"))][:3]
        detail = "w=[" + ", ".join(f"{w:.4f}" for w in ws) + f"] b={result['bias']:.4f}"
        if result.get("weight_error") is not None:
            detail += f"  weight_error={result['weight_error']:.2e}"
        detail += f"  {result['wall_s']:.2f}s"
    else:
        detail = result.get("reason") or ""
    return f"{num}{status:<8s} {result['run_name']}  {detail}"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
