"""linreg.core stands alone: no pipeline tools, and no torch on the numpy path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PIPELINE_TOOLS = ("hydra", "omegaconf", "mlflow", "dvc")


def run_isolated(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, returned parsed."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numpy_path_imports_no_torch_and_no_pipeline_tools():
    got = run_isolated("""
        import json, sys
        import numpy as np
        import linreg.core as core

        # data by hand (generate() draws with torch by the walkthrough protocol)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20, 2)).astype(np.float32)
        y = (X @ np.array([1.5, -0.5]) + 2.0).astype(np.float32)
        theta0 = core.data.initial_theta("zeros", 2, 0, None)
        t = core.fit(X, y, theta0, core.TrainSettings(lr=0.1, epochs=300), "numpy")
        ds = core.Dataset(X=X, y=y, X_test=X[:0], y_test=y[:0], theta0=theta0,
                          theta_true=np.array([2.0, 1.5, -0.5]), spec={})
        ev = core.evaluate(t.theta_final, ds, core.Loss("mse"), trajectory=t)
        mods = sorted({m.split(".")[0] for m in sys.modules})
        print(json.dumps({"modules": mods, "status": t.status,
                          "theta": t.theta_final.tolist(), "theta_error": ev.theta_error}))
    """)
    assert got["status"] == "ok"
    assert abs(got["theta"][0] - 2.0) < 1e-4 and abs(got["theta"][1] - 1.5) < 1e-4
    assert got["theta_error"] < 1e-4
    mods = set(got["modules"])
    assert "linreg" in mods and "numpy" in mods  # the probe sees real imports
    assert "torch" not in mods
    for tool in PIPELINE_TOOLS:
        assert tool not in mods, tool


def test_torch_path_loads_torch_but_no_pipeline_tools():
    got = run_isolated("""
        import json, sys
        import linreg.core as core
        ds = core.generate(core.DataSpec(n_samples=10, n_test=0))
        t = core.fit(ds.X, ds.y, ds.theta0, core.TrainSettings(epochs=2), "torch")
        print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}),
                          "status": t.status}))
    """)
    assert got["status"] == "ok"
    mods = set(got["modules"])
    assert "torch" in mods  # the check above would notice torch if it were there
    for tool in PIPELINE_TOOLS:
        assert tool not in mods, tool
