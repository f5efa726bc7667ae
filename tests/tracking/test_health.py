"""A tracking server that does not answer (linreg.tracking.health) is one line, in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.helpers.cli import clean_env


def test_an_unreachable_tracking_server_is_one_line_in_seconds(tmp_path):
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "linreg.train", "-m", "train.lr=0.01,0.1", "backend=numpy"],
        cwd=tmp_path,
        env=clean_env(MLFLOW_TRACKING_URI="http://user:secret@127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - began < 15
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: tracking.uri must name an MLflow server that answers")
    assert len(proc.stderr.splitlines()) == 1
    assert "secret" not in proc.stderr and "user:***@127.0.0.1:9" in proc.stderr
    assert os.listdir(tmp_path) == []
