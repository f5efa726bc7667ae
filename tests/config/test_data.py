"""A run's data (linreg.config.data): drawn data kept in linreg's cache on this machine, read back
bit for bit by the next process without importing torch; a damaged copy drawn again; a cache
that cannot be written skipped.  Real processes and a real cache folder (XDG_CACHE_HOME)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from linreg.config.data import drawn
from linreg.core import DataSpec, generate
from tests.helpers.cli import clean_env

# In a process of its own: the data of a spec, its digest, and whether torch was imported.
DRAW = """
import json, sys
from linreg.config.data import dataset
from linreg.core import DataSpec
data = dataset(DataSpec(**json.loads(sys.argv[1])))
print(json.dumps({"digest": data.digest, "torch": "torch" in sys.modules,
                  "w": data.theta0.tolist()}))
"""


def draw(cache: Path, **spec) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DRAW, json.dumps(spec)],
        env=clean_env(XDG_CACHE_HOME=str(cache)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def cached_folders(cache: Path) -> list[Path]:
    return sorted((cache / "linreg" / "data").iterdir())


def test_the_next_process_reads_drawn_data_from_the_cache_without_torch(tmp_path):
    first = draw(tmp_path)
    assert first["torch"]  # drawn by torch, as the walkthrough draws it
    [folder] = cached_folders(tmp_path)
    assert {p.name for p in folder.iterdir()} == {"meta.json", "train.parquet", "test.parquet"}
    second = draw(tmp_path)
    assert not second["torch"]
    assert second == {**first, "torch": False}
    assert first["digest"] == generate(DataSpec()).digest  # the walkthrough's numbers, bit for bit


# Each drawer imports first, then waits at a file barrier until all have, so that they draw and
# save within milliseconds of one another.
RACE = """
import json, sys, time
from pathlib import Path
from linreg.config.data import drawn
from linreg.core import DataSpec
barrier, me, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
(barrier / me).touch()
while len(list(barrier.iterdir())) < n:
    time.sleep(0.002)
print(drawn(DataSpec(seed=11)).digest)
"""


def test_processes_drawing_the_same_data_at_once_leave_one_intact_copy(tmp_path):
    n, barrier = 3, tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(barrier), str(i), str(n)],
            env=clean_env(XDG_CACHE_HOME=str(tmp_path / "cache")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outs
    want = generate(DataSpec(seed=11)).digest
    assert {out.strip() for out, _ in outs} == {want}
    made = list((tmp_path / "cache" / "linreg" / "data").iterdir())
    assert len(made) == 1, made  # one copy, no half-made folder left
    assert draw(tmp_path / "cache", seed=11)["digest"] == want
    assert not draw(tmp_path / "cache", seed=11)["torch"]


def test_each_spec_has_its_own_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a, b = drawn(DataSpec()), drawn(DataSpec(seed=7))
    assert len(cached_folders(tmp_path)) == 2
    assert a.digest != b.digest
    for spec, want in ((DataSpec(), a), (DataSpec(seed=7), b)):
        got = drawn(spec)
        assert got.digest == want.digest
        for name in ("X", "y", "X_test", "y_test", "theta0"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
            assert getattr(got, name).dtype == getattr(want, name).dtype


@pytest.mark.parametrize("damage", ["truncated", "digest", "meta-missing-arrays"])
def test_a_damaged_copy_is_drawn_again_and_replaced(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    want = generate(DataSpec())
    drawn(DataSpec())
    [folder] = cached_folders(tmp_path)
    if damage == "truncated":
        path = folder / "train.parquet"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "digest":
        meta = json.loads((folder / "meta.json").read_text())
        meta["digest"] = "0" * 64
        (folder / "meta.json").write_text(json.dumps(meta))
    else:
        (folder / "train.parquet").unlink()
    got = drawn(DataSpec())
    assert got.digest == want.digest
    np.testing.assert_array_equal(got.X, want.X)
    [again] = cached_folders(tmp_path)  # replaced by an intact copy
    assert drawn(DataSpec()).digest == want.digest
    assert json.loads((again / "meta.json").read_text())["digest"] == want.digest


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert drawn(DataSpec()).digest == generate(DataSpec()).digest
    assert blocker.read_text() == "not a folder"


def test_large_data_are_drawn_each_time_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    drawn(DataSpec(n_samples=1_100_000, n_features=1, weights=(2.5,)))
    assert not (tmp_path / "linreg" / "data").exists() or cached_folders(tmp_path) == []


def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    """The XDG base directory specification: a relative path is not a cache home."""
    from linreg.config.paths import cache_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    assert cache_dir() == tmp_path / "home" / ".cache" / "linreg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert cache_dir() == tmp_path / "abs" / "linreg"
