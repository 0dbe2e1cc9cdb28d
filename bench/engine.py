"""Engine benchmark: synthetic activities through the whole capture engine into a SQLite file.

In the same run, a baseline inserts the same entry rows with a plain sqlite3 `executemany`,
so the ratio engine/baseline says what the engine costs beyond writing its rows, whatever
else the machine is doing. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from core.demo_data import generate_firm
from core.engine import CaptureEngine
from core.policy import CapturePolicy, RuleSets
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.store import Store

FIRM = "bench"


def run_engine(db: Path, firm_size: dict[str, int], profile: bool) -> tuple[float, int, list[tuple]]:
    """Capture every synthetic activity; returns seconds, activities and the entry rows made."""
    firm = generate_firm(**firm_size, seed=42)
    store = Store.open(f"sqlite:///{db}")
    store.save_reference(FIRM, [*firm.timekeepers, *firm.clients, *firm.matters, *firm.categories])
    engine = CaptureEngine(
        firm=FIRM,
        policy=CapturePolicy(enabled=True),
        rules=RuleRunner(BUILTIN_RULES, RuleSets()),
        reference=store.load_reference(FIRM),
        store=store,
    )
    # A sync streams pages of activity; only the benchmark holds them all in memory at once.
    # Freezing that input keeps the garbage collector from rescanning it (and so does the CLI
    # with its long-lived reference data).
    gc.freeze()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = engine.capture(firm.activities, batch_size=2000)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM time_entries").fetchall()
    store.close()
    print(f"  statuses: {dict(sorted((k.value, v) for k, v in result.statuses.items()))}")
    print(f"  states:   {dict(sorted((k.value, v) for k, v in result.states.items()))}")
    return elapsed, len(firm.activities), rows


def run_baseline(db: Path, rows: list[tuple]) -> float:
    """Insert the same entry rows with plain sqlite3, in the same table, batch for batch."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE copy AS SELECT * FROM time_entries WHERE 0")
        placeholders = ",".join("?" * len(rows[0]))
        started = time.perf_counter()
        for start in range(0, len(rows), 2000):
            conn.executemany(f"INSERT INTO copy VALUES ({placeholders})", rows[start : start + 2000])  # noqa: S608
            conn.commit()
        return time.perf_counter() - started


def main(argv: list[str]) -> None:
    """Parse options, run engine and baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the engine's top functions")
    args = parser.parse_args(argv)
    size = {"timekeepers": 40, "clients": 1000, "matters": 3000, "activities": args.activities}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        print(f"engine benchmark: {args.activities} activities, 40 timekeepers, 3000 matters, SQLite file")
        engine_s, count, rows = run_engine(db, size, args.profile)
        baseline_s = run_baseline(db, rows)
    engine_rate = count / engine_s
    baseline_rate = len(rows) / baseline_s
    print(f"engine:   {count} activities -> {len(rows)} entries in {engine_s:.2f} s = {engine_rate:,.0f} activities/s")
    print(f"baseline: {len(rows)} entry rows by executemany in {baseline_s:.2f} s = {baseline_rate:,.0f} rows/s")
    print(f"ratio engine/baseline: {engine_rate / baseline_rate:.3f} (activities/s over rows/s)")
    print(f"floor 10,000 activities/s: {'met' if engine_rate >= 10_000 else 'NOT met'}")


if __name__ == "__main__":
    main(sys.argv[1:])
