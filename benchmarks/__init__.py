"""linreg's benchmarks: ratios measured side by side, written to benchmarks/RESULTS.md.

Run ``make bench`` or ``python -m benchmarks`` (``--quick`` for a smoke run, ``--only NAME``
for one module).  Each module exposes ``run(quick: bool) -> list[Row]`` (see ``common``).
"""

MODULES = ("walkthrough", "large", "scale", "growth", "gpu", "sweep", "recording")
