"""linreg's OmegaConf resolvers (linreg.config.resolvers): ${linreg.critical_lr:k} scales the
critical lr of the config's own data."""

from __future__ import annotations

import pytest

from linreg.core import DataSpec, generate
from linreg.core import curvature as curvature_mod
from linreg.core.curvature import curvature


def test_the_resolver_scales_the_critical_lr_of_the_configs_own_data():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({
        "data": {"kind": "synthetic", "n_samples": 100, "n_features": 1, "weights": [2.5],
                 "bias": 1.0, "noise_std": 0.5, "seed": 42, "n_test": 100,
                 "outlier_fraction": 0.0, "outlier_magnitude": 10.0, "feature_scale": 1000.0,
                 "init": "walkthrough", "init_seed": 0, "dir": None},
        "loss": {"name": "mse"},
        "train": {"lr": "${linreg.critical_lr:0.5}"},
    })  # fmt: skip
    import linreg.config.typed  # noqa: F401 (registers the resolver)

    expected = 0.5 * curvature(generate(DataSpec(feature_scale=1000.0)).X).critical_lr
    assert cfg.train.lr == pytest.approx(expected, rel=1e-12)
    assert curvature_mod.CURVATURE["mse"] == 2.0
