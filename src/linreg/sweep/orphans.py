"""Runs whose process is gone are ended KILLED, never left RUNNING: a sweep's children still
RUNNING once it is over (a killed worker, a signal), and any run of this machine whose process
died (SIGKILL, the OOM killer, a power cut), found by the ``linreg.host`` and ``linreg.pid`` tags
every run carries."""

from __future__ import annotations

import logging
import os
import socket

from linreg.tracking.describe import NOTE

log = logging.getLogger("linreg")
PROCESS_GONE_NOTE = (
    "**interrupted**: its process ended before the run did (a signal, a killed worker)."
)


def _end_gone(store, run_id: str) -> None:
    """A run whose process is gone: ended KILLED, saying so."""
    store.log(run_id, tags={"status": "interrupted", NOTE: PROCESS_GONE_NOTE})
    store.end_run(run_id, "KILLED")


def end_dead_children(store, parent: str) -> None:
    """Children of ``parent`` still RUNNING once the sweep is over lost their process (a killed
    worker, a signal): end them KILLED, never leave them RUNNING."""
    for run in store.client.search_runs(
        [store.experiment_id],
        f"tags.mlflow.parentRunId = '{parent}' and attributes.status = 'RUNNING'",
    ):
        _end_gone(store, run.info.run_id)


def reap_orphans(store) -> int:
    """Runs of this store left RUNNING by a process of this machine that is gone (SIGKILL, the
    OOM killer, a power cut) are ended KILLED, with a one-line notice; the number of them."""
    host, ended = socket.gethostname(), 0
    for run in store.client.search_runs(
        [store.experiment_id], f"attributes.status = 'RUNNING' and tags.`linreg.host` = '{host}'"
    ):
        pid = int(run.data.tags.get("linreg.pid", "0") or 0)
        if pid and not _alive(pid):
            _end_gone(store, run.info.run_id)
            ended += 1
    if ended:
        log.warning(
            "note: ended %d run(s) KILLED that a process killed earlier left RUNNING", ended
        )
    return ended


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
