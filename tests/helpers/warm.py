"""``python -m linreg.train`` started warm: a real process of its own, forked from a server that has
imported linreg's libraries once, instead of a new interpreter that imports them again.

A new interpreter spends seconds importing MLflow, torch, Hydra and matplotlib before the command
does anything; the suite starts a few hundred of them.  The server (one per test process) imports
them, then forks a child per command.  The child is what ``python -m linreg.train ARGS`` is from
``runpy`` on: its own pid, working directory, environment, standard streams to files, argv, signal
handlers and exit status; it runs ``linreg/train.py`` as ``__main__`` and ends through the
interpreter's normal exit: its atexit handlers run, and an uncaught exception is printed and ends
it as it would end a new interpreter.  Only the imports are shared, as a copy.

Two things keep a child from paying for the server's size: the imported objects are frozen out of
the garbage collector (``gc.freeze``), and a child that ended by returning or by ``sys.exit``
skips the interpreter's teardown once its atexit handlers have run (``os._exit`` with its exit
status).  Both would touch every object the server holds and so copy every page of it: about two
seconds a command.  A file a command leaves unclosed is then not flushed for it: stricter than a
new interpreter, never looser.

Tests of how the command starts (the console script, signals, a store made by processes started
together, a project's own conf/ in the working directory) start a new interpreter instead
(:class:`tests.helpers.cli.Cli` decides)."""

from __future__ import annotations

import atexit
import json
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

# The libraries a command imports: the server imports them once, before any fork.
WARM = [
    "linreg.train",
    "linreg.evaluate",
    "linreg.generate",
    "linreg.sweep.parent",
    "linreg.report",
    "linreg.tracking.store",
    "linreg.tracking.model",
    "linreg.tracking.registry",
    "linreg.present.graphs",
    "linreg.core.backends.torch_backend",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "torch",
    "matplotlib.figure",
    "pandas",
    "pyarrow.parquet",
]

SERVER = r"""
import atexit, gc, importlib, json, os, runpy, signal, sys
EXIT = []  # a child's exit status once its command has ended by returning or by sys.exit


@atexit.register  # registered first, so it runs last: after every handler the command registered
def _end():
    # the interpreter's own teardown would free each of the server's objects and so copy every
    # page it holds; what a command must do before it ends it does in atexit handlers, run by now
    if EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT[0])


for name in sys.argv[2:]:
    importlib.import_module(name)
replies = os.fdopen(int(sys.argv[1]), "w")
# the imported objects stay out of the collector's way: a child's collections (its exit's among
# them) would touch each object and so copy every page the server holds (~2 s a command)
gc.freeze()
replies.write("ready\n"); replies.flush()
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the command's process
        replies.close()
        os.setpgid(0, 0)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, job["out"]), (2, job["err"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stdin = open(os.devnull)
        sys.path[0] = job["cwd"]
        sys.argv = ["-m", *job["argv"]]
        sys.modules.pop(job["module"], None)  # as in a new interpreter: only __main__ runs it
        try:
            runpy.run_module(job["module"], run_name="__main__", alter_sys=True)
        except SystemExit as end:
            code = end.code
            EXIT.append(0 if code is None else code if isinstance(code, int) else 1)
            raise
        EXIT.append(0)
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    replies.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
    replies.flush()
import shutil
shutil.rmtree(os.getcwd(), ignore_errors=True)  # the test process has gone: its home goes too
"""


class WarmServer:
    """The server of one test process: started on first use, again after a command timed out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="linreg-warm-"))  # its cwd, the streams' files
        atexit.register(shutil.rmtree, self.home, True)
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(write), *WARM],
            cwd=self.home,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write,),
            text=True,
        )
        os.close(write)
        self.replies = os.fdopen(read)
        assert self.replies.readline() == "ready\n", "the warm server did not start"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, module: str, argv: list[str], cwd: Path, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:  # fmt: skip
        """``python -m module *argv`` in ``cwd`` with ``env``, as ``subprocess.run(...,
        capture_output=True, text=True, timeout=timeout)`` runs it."""
        out, err = self.home / "stdout", self.home / "stderr"
        job = {"module": module, "argv": argv, "cwd": str(cwd), "env": env,
               "out": str(out), "err": str(err)}  # fmt: skip
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.replies], [], [], timeout)
        if not ready:  # the command and the server go: a late reply would answer the next one
            for child in _children(self.proc.pid):
                os.killpg(child, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()
            raise subprocess.TimeoutExpired([module, *argv], timeout)
        reply = json.loads(self.replies.readline())
        enc = locale.getpreferredencoding(False)
        return subprocess.CompletedProcess(
            [sys.executable, "-m", module, *argv],
            reply["code"],
            out.read_text(encoding=enc),
            err.read_text(encoding=enc),
        )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []
