"""Writes docs/accuracy.md: linreg's least-squares optimum against NIST's certified values.

    python scripts/accuracy.py            # every NIST set in tests/data/nist, through `linreg`

Each NIST StRD linear least-squares set is written as the CSV a user would write (its design
columns: x, x^2, ... for the polynomial sets, as exact decimals), run through the ``linreg``
command (``data=csv data.test_fraction=0``, standardize off, ``train.fit_intercept`` as the model
says), and the optimum is read from the run's ``evaluation.json``.  The accuracy is the LRE (log
relative error, the number of correct significant digits, capped at 15), beside numpy's
``lstsq`` on the same float64 numbers.
"""

from __future__ import annotations

import decimal
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NIST = REPO / "tests" / "data" / "nist"
DOC = REPO / "docs" / "accuracy.md"


def certified(name: str) -> dict:
    return json.loads((NIST / f"{name}.json").read_text())


def names() -> list[str]:
    return sorted(p.stem for p in NIST.glob("*.json"))


def write_design_csv(name: str, path: Path) -> list[str]:
    """The user's CSV for a NIST set: its design columns (exact decimals) and y; the columns."""
    meta = certified(name)
    lines = (NIST / f"{name}.csv").read_text().split()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    degree = meta["degree"]
    if degree and header == ["x", "y"]:
        columns = ["x"] + [f"x^{k}" for k in range(2, degree + 1)]
        with decimal.localcontext(prec=2000):  # x^k of a short decimal, exactly
            body = [[str(decimal.Decimal(x) ** k) for k in range(1, degree + 1)] + [y]
                    for x, y in rows]  # fmt: skip
    else:
        columns, body = header[:-1], rows
    path.write_text(",".join([*columns, "y"]) + "\n" + "".join(",".join(r) + "\n" for r in body))
    return columns


def lre(estimate, certified_values) -> float:
    """min over coefficients of -log10(|est - cert| / |cert|), capped at 15 (NIST's LRE)."""
    worst = 15.0
    for e, c in zip(estimate, certified_values, strict=True):
        c = float(c)
        if e != c:
            worst = min(worst, -math.log10(abs(e - c) / abs(c)))
    return max(worst, 0.0)


def numpy_lstsq(path: Path, intercept: bool) -> list[float]:
    import pandas as pd

    df = pd.read_csv(path)
    X = df.drop(columns="y").to_numpy(np.float64)
    A = np.column_stack((np.ones(len(X)), X)) if intercept else X
    return np.linalg.lstsq(A, df["y"].to_numpy(np.float64), rcond=None)[0].tolist()


def linreg_optimum(path: Path, intercept: bool, out: Path) -> list[float]:
    """The optimum of a real ``linreg`` run on the CSV, read from its evaluation.json."""
    folder = out / "run"
    cmd = [sys.executable, "-m", "linreg.train", "data=csv", f"data.path={path}", "data.target=y",
           "data.test_fraction=0", "data.standardize=false", f"train.fit_intercept={intercept}",
           "train.epochs=1", "train.dtype=float64", "backend=numpy", "tracking.figures=false",
           "tracking.graph=false", f"tracking.uri=sqlite:///{out / 'mlflow.db'}",
           f"hydra.run.dir={folder}"]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=out, capture_output=True, text=True)
    ev = json.loads((folder / "evaluation.json").read_text())
    return ([ev["optimum_bias"]] if intercept else []) + ev["optimum_weights"]


def measure(name: str) -> dict:
    meta = certified(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        write_design_csv(name, path)
        ours = linreg_optimum(path, meta["intercept"], Path(tmp))
        theirs = numpy_lstsq(path, meta["intercept"])
    return {"name": name, "difficulty": meta["difficulty"], "n": meta["n"],
            "parameters": len(meta["certified"]), "linreg": lre(ours, meta["certified"]),
            "numpy": lre(theirs, meta["certified"])}  # fmt: skip


def report(rows: list[dict]) -> str:
    lines = [
        "# Accuracy: the least-squares optimum on NIST's certified data",
        "",
        "Written by `python scripts/accuracy.py`; do not edit by hand.",
        "",
        "NIST's Statistical Reference Datasets (StRD) for linear least squares come with",
        "certified coefficients computed in 500-digit arithmetic.  Each set present in",
        "`tests/data/nist/` is written as the CSV a user would write (the design columns x, x², …",
        "as exact decimals for the polynomial sets), run through",
        "`linreg data=csv data.test_fraction=0` (standardize off, `train.fit_intercept=false` for",
        "the models without one), and the optimum is read from the run's `evaluation.json`.  The",
        "LRE is the number of correct significant digits of the worst coefficient (capped at 15).",
        "numpy's `lstsq` solves the same float64 numbers.",
        "",
        "| dataset | difficulty | n | parameters | LRE linreg | LRE numpy lstsq |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['difficulty']} | {r['n']} | {r['parameters']} | "
                     f"{r['linreg']:.1f} | {r['numpy']:.1f} |")  # fmt: skip
    lines += [
        "",
        "How: QR of the column-equilibrated design, then iterative refinement on the augmented",
        "system with its residuals summed exactly (integer arithmetic on the floats' bits), and",
        "the CSV's decimals kept to about 32 digits (what float64 rounding drops is kept beside",
        "the data).  On Filip (condition number 1.8e15) the rounding of the data to float64 alone",
        "moves the exact answer in its eighth digit: solving the float64 numbers exactly gives",
        "LRE 7.7, whatever the solver.  A CSV of more than 2^20 numbers keeps float64 only, and",
        "so does the DVC pipeline's data/ (Parquet holds the float64 numbers).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    rows = [measure(name) for name in names()]
    DOC.write_text(report(rows))
    for r in rows:
        print(f"{r['name']:<10} linreg {r['linreg']:5.1f}   numpy lstsq {r['numpy']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
