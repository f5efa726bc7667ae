"""Ctrl-C and SIGTERM end a run or a sweep cleanly; a second one ends the process at once.

:func:`install` makes both signals raise :class:`Interrupted` in the main thread, wherever it
is: the run in flight records itself as interrupted (its MLflow run KILLED), the sweep's summary
lists what finished and its parent run is ended KILLED, and ``linreg`` exits 130 (SIGINT) or 143
(SIGTERM), as a shell reports a process ended by them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator


class Interrupted(KeyboardInterrupt):
    """A run or sweep stopped by a signal; ``code`` is the exit status (128 + the signal)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.code = 128 + signum
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class Signals:
    """One command's signal state: the signals that came (the first decides the exit status),
    one that no code has handled yet, and whether a block defers it.  Installed as the
    process's SIGINT and SIGTERM handler; the module's functions find it there."""

    def __init__(self, previous_hook) -> None:
        self.received: list[int] = []
        self.pending: list[int] = []
        self.deferring = 0
        self.previous_hook = previous_hook  # sys.unraisablehook before install()

    def handler(self, signum, frame) -> None:
        if self.received:  # a second signal: no more cleaning up
            os._exit(128 + self.received[0])
        self.received.append(signum)
        self.pending.append(signum)
        if not self.deferring:
            raise Interrupted(signum)

    def unraisable(self, info) -> None:
        """An Interrupted raised inside a finaliser cannot propagate: not a traceback to print,
        as :func:`check` raises it again at the next safe point."""
        if not isinstance(info.exc_value, Interrupted):
            self.previous_hook(info)


def _installed() -> Signals | None:
    """The Signals that handle SIGINT in this process, if :func:`install` put them there."""
    owner = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
    return owner if isinstance(owner, Signals) else None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A first signal waits until the block has run, then is raised: for a step whose result
    must be kept to clean up after it (an MLflow run created, but its id not yet returned, would
    stay RUNNING).  A second signal still ends the process at once."""
    state = _installed()
    if state is None:
        yield
        return
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    check()


def check() -> None:
    """Raise Interrupted if a signal came: a handler's exception raised inside a finaliser
    (a library's ``__del__``) is lost, so safe points ask again."""
    state = _installed()
    if state is not None and state.pending and not state.deferring:  # deferred: at its end
        raise Interrupted(state.pending.pop())


def handled() -> None:
    """The interruption is being dealt with (the run recorded, the sweep summed up): safe points
    no longer raise it."""
    state = _installed()
    if state is not None:
        state.pending.clear()


def received() -> Interrupted | None:
    state = _installed()
    return Interrupted(state.received[0]) if state is not None and state.received else None


def install() -> None:
    """SIGINT and SIGTERM raise Interrupted (main thread only, as Python's signals are): a fresh
    state for each command."""
    hook = sys.unraisablehook
    owner = getattr(hook, "__self__", None)
    state = Signals(owner.previous_hook if isinstance(owner, Signals) else hook)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, state.handler)
    sys.unraisablehook = state.unraisable


def describe(err: BaseException) -> str:
    """The reason a run records when a signal stopped it."""
    name = err.name if isinstance(err, Interrupted) else "SIGINT"
    return f"interrupted by {name} before its record was complete"
