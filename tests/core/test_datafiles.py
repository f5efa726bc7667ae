"""Datasets on disk (linreg.core.datafiles): saved and loaded bit for bit, streamed, their digest,
and what a corrupted or edited dataset is."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from linreg.core import (
    DataSpec,
    LinregError,
    generate,
    load_dataset,
    save_dataset,
)

# --- datasets on disk ----------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    spec = DataSpec(n_samples=12, n_features=2, weights=(1.0, -0.5), n_test=4, seed=3)
    ds = generate(spec)
    folder = save_dataset(ds, tmp_path / "data")
    return spec, ds, folder


def test_save_load_round_trip_bit_for_bit(saved):
    spec, ds, folder = saved
    back = load_dataset(folder, expect_spec={"kind": "synthetic", **spec.to_dict()})
    for name in ("X", "y", "X_test", "y_test", "theta0", "theta_true"):
        a, b = getattr(ds, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b)
    assert back.digest == ds.digest
    assert back.spec == ds.spec and back.feature_names == ds.feature_names
    assert back.feature_mean is None and back.feature_scale is None


def test_corrupted_parquet_is_a_linreg_error(saved):
    _, _, folder = saved
    path = folder / "train.parquet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw[: len(raw) - 5]))
    with pytest.raises(LinregError, match=r"^dir must be a readable dataset"):
        load_dataset(folder)


def test_edited_values_break_the_digest(saved):
    _, _, folder = saved
    df = pd.read_parquet(folder / "train.parquet")
    df.loc[0, "y"] += 1.0
    df.to_parquet(folder / "train.parquet", index=False)
    with pytest.raises(LinregError, match=r"^dir must be an intact dataset.*digest"):
        load_dataset(folder)


def test_edited_meta_json_is_a_linreg_error(saved):
    _, _, folder = saved
    meta = json.loads((folder / "meta.json").read_text())
    meta["theta0"][0] += 0.25
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(LinregError, match=r"^dir must be an intact dataset"):
        load_dataset(folder)
    (folder / "meta.json").write_text("{ not json")
    with pytest.raises(LinregError, match=r"^dir must be a readable dataset.*JSONDecodeError"):
        load_dataset(folder)
    (folder / "meta.json").unlink()
    with pytest.raises(LinregError, match=r"^dir must be a folder holding meta\.json"):
        load_dataset(folder)


def test_expect_spec_mismatch_names_the_key(saved):
    spec, _, folder = saved
    expect = {"kind": "synthetic", **spec.to_dict()}
    expect["noise_std"] = 0.25
    with pytest.raises(LinregError, match=r"configured spec.*differs in noise_std\)$"):
        load_dataset(folder, expect_spec=expect)
    expect = {"kind": "synthetic", **spec.to_dict(), "seed": 4, "n_test": 5}
    with pytest.raises(LinregError, match=r"differs in n_test, seed\)$"):
        load_dataset(folder, expect_spec=expect)
    # a tuple and a list of the same weights are the same spec
    same = {"kind": "synthetic", **spec.to_dict(), "weights": (1.0, -0.5)}
    load_dataset(folder, expect_spec=same)


# --- files: streamed writing and reading ---------------------------------------------------------


def test_streamed_save_and_load_are_bit_for_bit(tmp_path):
    spec = DataSpec(
        n_samples=23, n_features=3, weights=(1.0, -2.0, 0.5), n_test=7, seed=5, feature_scale=3.0
    )
    ds = generate(spec)
    small = save_dataset(ds, tmp_path / "small", rows_per_group=5)
    whole = save_dataset(ds, tmp_path / "whole")
    assert pq.ParquetFile(small / "train.parquet").num_row_groups == 5
    assert pq.ParquetFile(whole / "train.parquet").num_row_groups == 1
    for folder in (small, whole):
        for batch_rows in (2, None):
            back = load_dataset(folder, batch_rows=batch_rows)
            for name in ("X", "y", "X_test", "y_test", "theta0"):
                a, b = getattr(ds, name), getattr(back, name)
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b)
            assert back.digest == ds.digest


def test_digest_is_sha256_of_the_arrays_bytes_without_a_copy():
    ds = generate(DataSpec(n_samples=12, n_features=2, weights=(1.0, 2.0), n_test=3))
    h = hashlib.sha256()
    for a in (ds.X, ds.y, ds.X_test, ds.y_test, ds.theta0):
        h.update(np.ascontiguousarray(a).tobytes())  # the definition: bytes in C order
    assert ds.digest == h.hexdigest()
    from linreg.core.data import as_bytes

    view = as_bytes(ds.X)
    assert view.obj.base is not None and np.shares_memory(view.obj, ds.X)
