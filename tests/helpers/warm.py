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

Commands may run side by side: :meth:`WarmServer.start` returns at once with a handle that
behaves as ``subprocess.Popen`` does (``pid``, ``poll``, ``wait``, ``communicate``,
``send_signal``), for the tests of signals, kills and processes started together; the server
reaps each child as it ends and reports its exit status.  ``python -c CODE`` starts warm the same
way.

Tests of how the command starts (the console script, a project's own conf/ in the working
directory) start a new interpreter instead (:mod:`tests.helpers.cli` decides)."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
import atexit, gc, importlib, json, os, runpy, select, signal, sys
EXIT = []  # a child's exit status once its command has ended by returning or by sys.exit


@atexit.register  # registered first, so it runs last: after every handler the command registered
def _end():
    # the interpreter's own teardown would free each of the server's objects and so copy every
    # page it holds; what a command must do before it ends it does in atexit handlers, run by now
    if EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT[0])


def child(job):
    os.setpgid(0, 0)
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, path in ((1, job["out"]), (2, job["err"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.stdin = open(os.devnull)
    try:
        if "code" in job:  # python -c CODE ARGS
            sys.path[0] = ""
            sys.argv = ["-c", *job["argv"]]
            main = type(sys)("__main__")
            sys.modules["__main__"] = main
            exec(compile(job["code"], "<string>", "exec"), main.__dict__)
        else:  # python -m MODULE ARGS
            sys.path[0] = job["cwd"]
            sys.argv = ["-m", *job["argv"]]
            sys.modules.pop(job["module"], None)  # as in a new interpreter: only __main__ runs it
            runpy.run_module(job["module"], run_name="__main__", alter_sys=True)
    except SystemExit as end:
        code = end.code
        EXIT.append(0 if code is None else code if isinstance(code, int) else 1)
        raise
    EXIT.append(0)
    sys.exit(0)


for name in sys.argv[2:]:
    importlib.import_module(name)
replies = os.fdopen(int(sys.argv[1]), "w")
# the imported objects stay out of the collector's way: a child's collections (its exit's among
# them) would touch each object and so copy every page the server holds (~2 s a command)
gc.freeze()
replies.write(json.dumps({"ready": True}) + "\n"); replies.flush()
pending, running = b"", set()
while True:
    ready, _, _ = select.select([0], [], [], 0.02)
    while running:  # every child that has ended, reaped and reported
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        running.discard(pid)
        replies.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()
    if not ready:
        continue
    data = os.read(0, 1 << 20)
    if not data:
        break
    pending += data
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        pid = os.fork()
        if pid == 0:  # the command's process
            replies.close()
            child(json.loads(line))
        running.add(pid)
        replies.write(json.dumps({"started": pid}) + "\n")
        replies.flush()
import shutil
try:  # the test process has gone: its home goes too (unless the test process removed it first)
    shutil.rmtree(os.getcwd(), ignore_errors=True)
except FileNotFoundError:
    pass
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
        self.replies, self.pending = read, b""  # the server's lines, read as they come
        self.jobs = itertools.count()
        self.ended: dict[int, int] = {}  # pid -> exit status, as the server reports them
        assert self._reply(600) == {"ready": True}, "the warm server did not start"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, argv: list[str], cwd: Path, env: dict[str, str],
              module: str | None = None, code: str | None = None) -> WarmProcess:  # fmt: skip
        """``python -m module *argv`` (or ``python -c code *argv``) in ``cwd`` with ``env``,
        started as ``subprocess.Popen(..., stdout=PIPE, stderr=PIPE, text=True)`` starts it."""
        n = next(self.jobs)
        out, err = self.home / f"{n}.out", self.home / f"{n}.err"
        job = {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
        job |= {"module": module} if code is None else {"code": code}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        while "started" not in (reply := self._reply(300)):
            assert reply, "the warm server did not start the command"
        pid = reply["started"]
        first = ["-m", module] if code is None else ["-c", code]
        return WarmProcess(self, pid, [sys.executable, *first, *argv], out, err)

    def run(self, module: str, argv: list[str], cwd: Path, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:  # fmt: skip
        """``python -m module *argv`` in ``cwd`` with ``env``, as ``subprocess.run(...,
        capture_output=True, text=True, timeout=timeout)`` runs it."""
        proc = self.start(argv, cwd, env, module=module)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:  # the command and what it started go
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def collect(self, pid: int, timeout: float | None) -> int | None:
        """``pid``'s exit status once the server has reported it, waiting at most ``timeout``
        seconds (None: for as long as it takes); None if it still runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self.ended:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._reply(left):
                return None
        return self.ended[pid]

    def _reply(self, timeout: float | None) -> dict:
        """The server's next line that is not an exit status ({} if none came within
        ``timeout`` seconds); the exit statuses read on the way are kept in ``ended``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                reply = json.loads(line)
                if "pid" not in reply:
                    return reply
                self.ended[reply["pid"]] = reply["code"]
                return {"ended": reply["pid"]}
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.replies], [], [], left)
            if not ready:
                return {}
            data = os.read(self.replies, 1 << 16)
            assert data, "the warm server has gone"
            self.pending += data


class WarmProcess:
    """A command the warm server started, handled as a ``subprocess.Popen`` is."""

    def __init__(self, server: WarmServer, pid: int, args: list[str], out: Path, err: Path):
        self.server, self.pid, self.args = server, pid, args
        self.out, self.err = out, err
        self.returncode: int | None = None
        self.output: tuple[str, str] | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.collect(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.server.collect(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """The command's stdout and stderr once it has ended (the same again if asked again)."""
        self.wait(timeout)
        if self.output is None:
            enc = locale.getpreferredencoding(False)
            self.output = self.out.read_text(encoding=enc), self.err.read_text(encoding=enc)
            self.out.unlink(missing_ok=True)
            self.err.unlink(missing_ok=True)
        return self.output

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
