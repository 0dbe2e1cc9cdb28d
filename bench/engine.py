"""Engine benchmark: synthetic activities through the whole capture engine into a SQLite file.

Each repetition captures the same activities into a fresh SQLite file and then, in the same
repetition, a baseline inserts the same entry rows with a plain sqlite3 `executemany` into a
table with the same schema. The ratio engine/baseline says what the engine costs beyond
writing its rows, whatever else the machine is doing; the best of several repetitions is the
figure least disturbed by other load. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from billsync_sandboxes.demo.data import SyntheticFirm, generate_firm

from core.engine import CaptureEngine
from core.policy import CapturePolicy, RuleSets
from core.process import tune_garbage_collector
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.store import Store

FIRM = "bench"
BATCH = 2000


@dataclass(frozen=True)
class Repetition:
    """One engine run and its baseline, timed in the same breath."""

    engine_s: float
    baseline_s: float
    activities: int
    entries: int

    @property
    def engine_rate(self) -> float:
        """Activities per second through the whole engine."""
        return self.activities / self.engine_s

    @property
    def baseline_rate(self) -> float:
        """Entry rows per second by plain executemany."""
        return self.entries / self.baseline_s


def run_engine(db: Path, firm: SyntheticFirm, profiler: cProfile.Profile | None) -> float:
    """Capture every synthetic activity into `db`; returns the seconds it took."""
    store = Store.open(f"sqlite:///{db}")
    store.save_reference(FIRM, [*firm.timekeepers, *firm.clients, *firm.matters, *firm.categories])
    engine = CaptureEngine(
        firm=FIRM,
        policy=CapturePolicy(enabled=True),
        rules=RuleRunner(BUILTIN_RULES, RuleSets()),
        reference=store.load_reference(FIRM),
        store=store,
    )
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    engine.capture(firm.activities, batch_size=BATCH)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def run_baseline(db: Path) -> tuple[float, int]:
    """Insert the engine's entry rows again with plain sqlite3, into an identical table."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        rows = conn.execute("SELECT * FROM time_entries").fetchall()
        conn.execute("ALTER TABLE time_entries RENAME TO engine_entries")
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'engine_entries' AND sql IS NOT NULL"
        ):
            conn.execute(sql.replace("engine_entries", "time_entries").replace("ix_", "baseline_ix_"))
        conn.execute("DELETE FROM time_entries")
        conn.commit()
        conn.execute("PRAGMA foreign_keys=OFF")  # the baseline writes entry rows only
        placeholders = ",".join("?" * len(rows[0]))
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            conn.executemany(f"INSERT INTO time_entries VALUES ({placeholders})", rows[start : start + BATCH])  # noqa: S608
            conn.commit()
        return time.perf_counter() - started, len(rows)


def main(argv: list[str]) -> None:
    """Parse options, run the repetitions, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the first repetition")
    args = parser.parse_args(argv)
    firm = generate_firm(timekeepers=40, clients=1000, matters=3000, activities=args.activities, seed=42)
    tune_garbage_collector()  # as the CLI does; it also freezes this input, which a sync would stream
    print(
        f"engine benchmark: {args.activities:,} activities, 40 timekeepers, 1,000 clients, 3,000 matters, "
        f"SQLite file, batches of {BATCH}"
    )
    runs: list[Repetition] = []
    for number in range(args.repeat):
        profiler = cProfile.Profile() if args.profile and number == 0 else None
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            engine_s = run_engine(db, firm, profiler)
            baseline_s, entries = run_baseline(db)
        run = Repetition(engine_s, baseline_s, args.activities, entries)
        runs.append(run)
        print(
            f"  run {number + 1}: engine {run.engine_s:6.2f} s = {run.engine_rate:8,.0f} activities/s | "
            f"baseline {run.baseline_s:5.2f} s = {run.baseline_rate:9,.0f} rows/s | "
            f"ratio {run.engine_rate / run.baseline_rate:.3f}"
        )
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            print(out.getvalue())
    best = max(runs, key=lambda r: r.engine_rate)
    median_rate = statistics.median(r.engine_rate for r in runs)
    print(f"entries written per run: {runs[0].entries:,}")
    print(f"engine activities/s: best {best.engine_rate:,.0f}, median {median_rate:,.0f}")
    print(f"ratio engine/baseline (activities/s over rows/s): best run {best.engine_rate / best.baseline_rate:.3f}")
    print(f"floor 10,000 activities/s: {'met' if best.engine_rate >= 10_000 else 'NOT met'} (best run)")


if __name__ == "__main__":
    main(sys.argv[1:])
