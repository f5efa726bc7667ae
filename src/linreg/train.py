"""Train: one run, a Hydra multirun, or (``--from-params``) the DVC pipeline's whole grid.

    python -m linreg.train train.lr=0.01 train.epochs=100 loss=mse backend=torch device=cpu
    python -m linreg.train -m train.lr=0.001,0.01,0.1 loss=mse,mae backend=numpy,torch
    python -m linreg.train --from-params params.yaml       # the DVC ``train`` stage

Every run goes through Hydra (so its launchers apply: ``hydra/launcher=joblib``), after
:mod:`linreg.sweep` has checked every combination, and is carried out by :mod:`linreg.runner`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from .config import CONF_DIR, job_from_cfg
from .core.errors import LinregError


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_app(cfg: DictConfig) -> dict | float:
    """One job of Hydra: adapt the config, then run it (the runner never raises).  Returns the
    result, or with ``tracking.objective`` set (Optuna) that key of it as a float."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .runner import execute

    hc = HydraConfig.get()
    out = hc.runtime.output_dir
    job = job_from_cfg(cfg)
    Path(out, "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    num = hc.job.num if hc.mode == RunMode.MULTIRUN else None
    result = execute(job, out, num)
    key = cfg.tracking.objective
    return objective(result, key) if key else result


def objective(result: dict, key: str) -> float:
    """``result[key]`` for a sweeper that minimises it; inf where the run has no finite value
    (failed, skipped, diverged), so the search goes on and never picks it."""
    value = result.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("inf")
    return value if math.isfinite(value) else float("inf")


def ray_worker_setup() -> None:
    """Ray's ``worker_process_setup_hook`` (conf/hydra/launcher/ray.yaml).  A Ray worker starts in
    the folder and environment of ``ray start``; run linreg's jobs in the driver's folder with its
    MLflow store instead, as every other launcher does (``LINREG_WORKDIR`` and
    ``MLFLOW_TRACKING_URI`` come from the driver, an empty URI meaning it had none)."""
    import os

    os.chdir(os.environ["LINREG_WORKDIR"])
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ.pop("MLFLOW_TRACKING_URI", None)


def main(argv: list[str] | None = None) -> int:
    from . import sweep
    from .params import ParamsError, argv_from_params

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["--from-params"]:
            argv = argv_from_params(argv[1] if len(argv) > 1 else "params.yaml")
        plan = sweep.prepare(argv)
    except (LinregError, sweep.UsageError, ParamsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if plan is None:  # --help, --cfg, ...: Hydra's own
        sys.argv = [sys.argv[0], *argv]
        hydra_app()
        return 0
    sys.argv = [sys.argv[0], *plan.argv]
    if not plan.multirun:
        return _single(plan)
    try:
        hydra_app()
    finally:
        code = sweep.finish(plan)
    return code


def _single(plan) -> int:
    import json

    from .summary import describe

    hydra_app()
    path = plan.out_dirs[0] / "result.json"
    if not path.is_file():
        return 1
    result = json.loads(path.read_text())
    print(describe(result))
    print(f"run folder: {plan.out_dirs[0]}")
    return 1 if result["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
