"""Presentation: a sweep's summary table and report, the per-run and sweep figures, the graphs."""
