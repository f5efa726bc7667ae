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


_received: list[int] = []  # the signals that came (the first one decides the exit status)
_pending: list[int] = []  # one that no code has handled yet


_deferring: list[bool] = []  # inside deferred(): a first signal waits for its end


def _handler(signum, frame) -> None:
    if _received:  # a second signal: no more cleaning up
        os._exit(128 + _received[0])
    _received.append(signum)
    _pending.append(signum)
    if not _deferring:
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A first signal waits until the block has run, then is raised: for a step whose result
    must be kept to clean up after it (an MLflow run created, but its id not yet returned, would
    stay RUNNING).  A second signal still ends the process at once."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    check()


def check() -> None:
    """Raise Interrupted if a signal came: a handler's exception raised inside a finaliser
    (a library's ``__del__``) is lost, so safe points ask again."""
    if _pending and not _deferring:  # within deferred(): raised at its end
        raise Interrupted(_pending.pop())


def handled() -> None:
    """The interruption is being dealt with (the run recorded, the sweep summed up): safe points
    no longer raise it."""
    _pending.clear()


def received() -> Interrupted | None:
    return Interrupted(_received[0]) if _received else None


def install() -> None:
    """SIGINT and SIGTERM raise Interrupted (main thread only, as Python's signals are)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handler)
    if sys.unraisablehook is not _unraisable:
        _default_hook.append(sys.unraisablehook)
        sys.unraisablehook = _unraisable


_default_hook: list = []


def _unraisable(info) -> None:
    """An Interrupted raised inside a finaliser cannot propagate: not a traceback to print, as
    :func:`check` raises it again at the next safe point."""
    if not isinstance(info.exc_value, Interrupted):
        _default_hook[0](info)


def describe(err: BaseException) -> str:
    """The reason a run records when a signal stopped it."""
    name = err.name if isinstance(err, Interrupted) else "SIGINT"
    return f"interrupted by {name} before its record was complete"
