"""Small shared fixtures for the core tests (keep each one minimal and clearly named)."""

from __future__ import annotations

import pytest

from linreg.core import DataSpec, generate


@pytest.fixture(scope="session")
def walkthrough_data():
    """The walkthrough's problem: generate(DataSpec()) (100 x 1, y = 2.5x + 1 + noise, seed 42).

    Shared read-only: tests must not modify its arrays.
    """
    return generate(DataSpec())
