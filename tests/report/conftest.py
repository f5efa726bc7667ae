"""Fixtures of the sweep figure tests, shared with tests/present/ (tests/helpers/figures.py):
``sweep``, a small sweep trained by the core, and ``saved``, every Figure saved while a test
runs. (test_report.py has a ``sweep`` of its own: a real sweep through the command line.)"""

from tests.helpers.figures import saved, sweep  # noqa: F401  (fixtures)
