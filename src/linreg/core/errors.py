"""Bad input as one line: the family of errors a stage prints as ``error: <line>`` (exit 2).

:class:`UsageError` is the family's base: ``str()`` is the whole line, and a stage catches it
alone.  The core raises :class:`LinregError`, the line in scikit-learn's shape (the parameter, what
is allowed, what was given); ``param`` is the core's own name for the value (``lr``) and the
pipeline names the config key the user typed (``train.lr``) with :meth:`LinregError.renamed`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np


class UsageError(ValueError):
    """Bad input (a value, a command line, a params file, a folder): ``str()`` is the one line
    to print, given whole by whoever found it."""


class LinregError(UsageError):
    """A value the user gave is not allowed: the line built from the parameter, what is allowed
    and what was given."""

    def __init__(self, param: str, allowed: str, given: Any, *, note: str = "") -> None:
        self.param, self.allowed, self.given, self.note = param, allowed, given, note
        super().__init__(self._message())

    def _message(self) -> str:
        given = (
            self.given
            if isinstance(self.given, str) and self.given.startswith("<")
            else repr(self.given)
        )
        text = f"{self.param} must be {self.allowed}, got {given}"
        return f"{text} ({self.note})" if self.note else text

    def renamed(self, param: str) -> LinregError:
        """The same error, naming the parameter as the caller knows it."""
        err = type(self)(param, self.allowed, self.given, note=self.note)
        return err

    def __reduce__(self):  # picklable across joblib/ray workers
        return (_rebuild, (type(self), self.param, self.allowed, self.given, self.note))


def _rebuild(cls, param, allowed, given, note):
    return cls(param, allowed, given, note=note)


class UnsupportedCombination(LinregError):
    """A valid choice that cannot run here (numpy on cuda, cuda absent): a sweep skips it."""


def check_number(
    param: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    integer: bool = False,
) -> Any:
    """Return ``value`` if it is a finite (integer) number inside the bounds, else raise."""
    bounds = []
    if gt is not None:
        bounds.append(f"> {gt:g}")
    if ge is not None:
        bounds.append(f">= {ge:g}")
    if lt is not None:
        bounds.append(f"< {lt:g}")
    if le is not None:
        bounds.append(f"<= {le:g}")
    kind = "an integer" if integer else "a number"
    allowed = f"{kind} {' and '.join(bounds)}".strip()
    ok_type = isinstance(value, Integral) if integer else isinstance(value, Real)
    if isinstance(value, bool) or not ok_type:
        raise LinregError(param, allowed, value)
    if not integer and not math.isfinite(value):
        raise LinregError(param, allowed, value)
    if (
        (gt is not None and not value > gt)
        or (ge is not None and not value >= ge)
        or (lt is not None and not value < lt)
        or (le is not None and not value <= le)
    ):
        raise LinregError(param, allowed, value)
    return int(value) if integer else float(value)


def check_choice(param: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    choices = list(choices)
    if value not in choices:
        raise LinregError(param, "one of " + ", ".join(choices), value)
    return value


def check_finite(param: str, a: Any) -> None:
    """Raise unless ``a`` is an array of finite real numbers (no NaN, no inf), naming where the
    first bad value is.  Costs two passes over ``a`` and no copy while it is fine."""
    a = np.asarray(a)
    allowed = "finite numbers (no NaN or inf)"
    if a.dtype.kind not in "biuf":
        raise LinregError(param, allowed, f"<an array of {a.dtype.name}>")
    if a.size == 0 or a.dtype.kind != "f":
        return
    if math.isfinite(float(a.min())) and math.isfinite(float(a.max())):
        return
    bad = ~np.isfinite(a)
    first = np.unravel_index(int(np.argmax(bad)), a.shape)
    where = ", ".join(str(int(i)) for i in first)
    n_nan, n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    counts = " and ".join(f"{k} {name}" for k, name in ((n_nan, "NaN"), (n_inf, "inf")) if k)
    if a.size <= 8:
        raise LinregError(param, allowed, a.tolist())
    raise LinregError(param, allowed, f"<{counts} value(s), the first at [{where}]>")
