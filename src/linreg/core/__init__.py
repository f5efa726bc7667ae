"""The math of linreg: data, losses, backends, the optimiser and evaluation.

Plain functions on arrays and typed arguments.  Nothing here imports hydra, mlflow or dvc.
"""

from .backends import BACKENDS, fit, get_backend
from .data import Dataset, DataSpec, generate
from .datafiles import CsvSpec, load_csv, load_dataset, save_dataset
from .device import DEVICES, resolve_device
from .errors import LinregError, UnsupportedCombination
from .evaluation import Evaluation, evaluate, find_optimum
from .losses import LOSSES, Loss
from .optim import SCHEDULES, TrainSettings, Trajectory
from .solvers import Optimum, optimum

__all__ = [
    "BACKENDS",
    "DEVICES",
    "LOSSES",
    "SCHEDULES",
    "CsvSpec",
    "DataSpec",
    "Dataset",
    "Evaluation",
    "LinregError",
    "Loss",
    "Optimum",
    "TrainSettings",
    "Trajectory",
    "UnsupportedCombination",
    "evaluate",
    "find_optimum",
    "fit",
    "generate",
    "get_backend",
    "load_csv",
    "load_dataset",
    "optimum",
    "resolve_device",
    "save_dataset",
]
