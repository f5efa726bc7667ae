"""python -m benchmarks [--quick] [--only NAME ...] [--out PATH]

Runs each benchmark module in turn (``benchmarks/sweep.py`` too, when it exists), prints the
ratio table and, on a full run of every module, writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path

from . import MODULES
from .common import RESULTS, table, write_results


def available() -> list[str]:
    return [m for m in MODULES if importlib.util.find_spec(f"benchmarks.{m}") is not None]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[2])
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few repeats: a smoke run (writes no RESULTS.md)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this module (repeatable): {', '.join(MODULES)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the results here (default: benchmarks/RESULTS.md on a full run)",
    )
    args = p.parse_args(argv)
    names = available()
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            p.error(f"unknown benchmark {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in args.only]
    out = args.out or (RESULTS if not args.quick and not args.only else None)
    start = time.perf_counter()
    sections = []
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        print(f"\n== {name}: {doc}", flush=True)
        t = time.perf_counter()
        rows = mod.run(args.quick)
        notes = mod.notes(rows) if hasattr(mod, "notes") else ""
        print(table(rows), flush=True)
        print(f"({time.perf_counter() - t:.0f} s)", flush=True)
        sections.append((name, doc, rows, notes))
    seconds = time.perf_counter() - start
    all_rows = [r for _, _, rows, _ in sections for r in rows]
    print(f"\n== all ({seconds:.0f} s)\n{table(all_rows)}")
    if out is not None:
        command = (
            "python -m benchmarks"
            + (" --quick" if args.quick else "")
            + "".join(f" --only {n}" for n in args.only or [])
        )
        write_results(sections, seconds, command, out)
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
