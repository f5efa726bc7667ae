"""One object owns what a ``linreg`` command learns as it goes: :class:`Sweep`.

The command (:func:`linreg.train.main`) creates it and makes it the current one for as long as
Hydra runs; Hydra builds the callback and the jobs itself, from config, so they find it with
:func:`current` (a :class:`contextvars.ContextVar`, set and reset by :func:`Sweep.active`), never
through module globals or environment variables.  Outside a command (a test composing the app
and calling it) :func:`current` gives a fresh, default Sweep.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from linreg.sweep.parent import close

log = logging.getLogger("linreg")


@dataclass
class Sweep:
    """What one command knows of its runs and its sweep.

    ``stage``: the DVC stage the command runs as ("train"), or None.  ``opened``: the folder of
    the sweep whose parent run this command opened.  ``not_opened``: why on_multirun_start could
    not open it (Hydra turns a callback's exception into a warning: the command names it).
    ``resuming``: the sweep folder a resume pass launches into (its parent run is open already;
    the last pass does not close it: the command does).  ``single_run``: the folder of the
    single run this command ran.  ``exit_code``: set once the sweep is closed (it closes once).
    """

    stage: str | None = None
    opened: Path | None = None
    not_opened: Exception | None = None
    resuming: Path | None = None
    single_run: Path | None = None
    exit_code: int | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator[Sweep]:
        """This Sweep is :func:`current` inside the block."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def is_resuming(self, sweep_dir: Path) -> bool:
        return self.resuming is not None and self.resuming.resolve() == Path(sweep_dir).resolve()

    def close(self, interrupted: str | None = None) -> int:
        """Sum the opened sweep up and end its parent run, once (:func:`linreg.sweep.parent.close`);
        the exit status: 1 if a run failed, the sweep never opened, or it could not be summed up.
        ``interrupted``: the name of the signal that stopped it."""
        if self.exit_code is not None:
            return self.exit_code
        if self.opened is None:
            self.exit_code = 1
            return 1
        self.exit_code = 1  # until the summary is written: a failure below is not retried
        try:
            self.exit_code = close(self.opened, interrupted)
        except Exception as err:
            first = str(err).splitlines()[0] if str(err) else ""
            log.error("error: the sweep could not be summed up: %s: %s", type(err).__name__, first)
        return self.exit_code


_CURRENT: contextvars.ContextVar[Sweep] = contextvars.ContextVar("linreg_sweep")


def current() -> Sweep:
    """The running command's Sweep (a default one outside a command)."""
    try:
        return _CURRENT.get()
    except LookupError:
        return Sweep()
