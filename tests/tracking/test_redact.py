"""A tracking password (linreg.tracking.redact) is never written: not in the URI shown, not in the
sweep's files."""

from __future__ import annotations

import os

import pytest

from tests.helpers.cli import store_runs
from tests.helpers.processes import SHORT
from tests.helpers.servers import HOST, free_port, mlflow_server, tail, train, wait_http


def test_the_tracking_uri_is_written_without_its_password():
    from linreg.tracking.redact import redact, unredact

    uri = "https://ann:s3cret@mlflow.example.org:5000/path"
    assert redact(uri) == "https://ann:***@mlflow.example.org:5000/path"
    assert redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        assert unredact(redact(uri)) == uri  # the password comes back from the environment only
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


@pytest.mark.slow
def test_a_tracking_password_is_never_written_to_the_sweeps_files(tmp_path):
    """A sweep into a server named with user:password: sweep.json, summary.csv, the run folders
    and the terminal hold the URI without the password; the runs land on the server."""

    port, log = free_port(), tmp_path / "server.log"
    (tmp_path / "server").mkdir()
    (tmp_path / "project").mkdir()
    with mlflow_server("server", port, f"sqlite:///{tmp_path / 'server' / 'm.db'}", log,
                       tmp_path / "server") as server:  # fmt: skip
        wait_http(f"http://{HOST}:{port}/health", server, log, timeout=90)
        uri = f"http://ann:s3cret@{HOST}:{port}"
        proc = train(tmp_path / "project", uri, "-m", "train.lr=0.01,0.1", *SHORT,
                     "hydra.sweep.dir=sw")  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr + tail(log)
        assert len(store_runs(f"http://{HOST}:{port}")) == 3  # the parent and its two runs
    assert "s3cret" not in proc.stdout + proc.stderr
    written = [p for p in (tmp_path / "project").rglob("*") if p.is_file()]
    assert any(p.name == "sweep.json" for p in written)
    for path in written:
        assert b"s3cret" not in path.read_bytes(), path
    manifest = (tmp_path / "project" / "sw" / "sweep.json").read_text()
    assert f"ann:***@{HOST}:{port}" in manifest
