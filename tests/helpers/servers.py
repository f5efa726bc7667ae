"""Background servers for the slow tests (MLflow UI and tracking server, a Ray head): a free port
on 127.0.0.1, bounded waits, and a process in its own session that is always stopped with its
children (SIGTERM to its process group, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.helpers.cli import VENV_BIN, clean_env

HOST = "127.0.0.1"


FIRST_PORT = 20000  # above Ray's worker ports (10002-19999)
_given: set[int] = set()


def free_port() -> int:
    """A port for a server a test starts, free now and handed to nothing else before the server
    binds it.  A port from bind(0) is not: it lies in the kernel's ephemeral range, which every
    bind(0) and outgoing connection on the machine draws from (Ray's many processes, the other
    xdist worker's clients and servers), so it could be taken in the seconds before the server
    binds it (the server then exits, or wait_http reaches another test's server).  These ports
    lie below that range and above Ray's worker ports, in a block of their own for each xdist
    worker, at a random place in it (another session on the machine), never given out twice."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    if ephemeral - FIRST_PORT < 1000:  # no room below the ephemeral range: bind(0)'s port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            return s.getsockname()[1]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    span = (ephemeral - FIRST_PORT) // max(workers, 1)
    first, start = FIRST_PORT + worker % max(workers, 1) * span, random.randrange(span)
    for i in range(span):
        port = first + (start + i) % span
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise AssertionError(f"no free port in {first}-{first + span - 1}")


def tail(path: Path, n: int = 3000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


class Background:
    """``with Background(cmd, log, cwd=..., env=...) as proc:`` a command in its own session,
    output to ``log``; stopped with everything it started when the block ends."""

    def __init__(self, cmd: list[str], log: Path, cwd: Path, env: dict[str, str]) -> None:
        self.cmd, self.log, self.cwd, self.env = cmd, Path(log), cwd, env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> subprocess.Popen:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.proc

    def __exit__(self, *exc) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM to the process group ``proc`` leads, SIGKILL to what is left after ``grace`` s."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(proc):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until ``url`` answers 200; fails at once if ``proc`` exits, with the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[:2]} exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s:\n{tail(log)}")


def wait_log(text: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until ``text`` appears in ``log``; fails at once if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in tail(log, 10**6):
            return
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[:2]} exited with {proc.returncode}:\n{tail(log)}")
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} within {timeout:.0f} s:\n{tail(log)}")


def mlflow_server(kind: str, port: int, backend: str, log: Path, cwd: Path, *extra: str):
    """``mlflow ui|server`` on 127.0.0.1:port with one worker and no job runner (a background
    pool of processes that the tests do not need)."""
    cmd = [
        str(VENV_BIN / "mlflow"),
        kind,
        "--backend-store-uri",
        backend,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        *extra,
    ]
    return Background(cmd, log, cwd, clean_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"))


def train(
    cwd: Path, uri: str, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """``python -m linreg.train ARGS`` in ``cwd`` recording into the MLflow store at ``uri``."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "-m", "linreg.train", *args],
        cwd=cwd,
        env=clean_env(MLFLOW_TRACKING_URI=uri, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
