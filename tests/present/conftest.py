"""Fixtures of the run figure tests, shared with tests/report/ (tests/helpers/figures.py):
``sweep``, a small sweep trained by the core, and ``saved``, every Figure saved while a test
runs."""

from tests.helpers.figures import saved, sweep  # noqa: F401  (fixtures)
