"""Clio sync benchmark: a firm's month through the local Clio sandbox and one sync cycle.

Prints HTTP requests per entry written (floor: at most 1.1), records per read request, and
429s as a share of all requests (floor: under 1%), counted from the sandbox's own request log.
The sandbox keeps Clio's 60-second window; its limit is scaled up from 50 so the run stays short,
and the client must still pace itself from the X-RateLimit headers. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit.server import build_server_app

from core.logging import configure_logging
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.process import tune_garbage_collector
from core.serving import run_in_thread


def main(argv: list[str]) -> None:
    """Run one cycle over a synthetic month and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=1500)
    parser.add_argument("--rate-limit", type=int, default=1500, help="requests per minute per token")
    args = parser.parse_args(argv)
    configure_logging(level="warning")
    firm = generate_firm(timekeepers=12, clients=40, matters=120, activities=args.activities, seed=3)
    seed = load(DEMO_SEEDS, "clio")(firm, now=datetime(2026, 11, 1, tzinfo=UTC))
    sandbox = load(SANDBOXES, "clio")(seed, rate_limit_per_minute=args.rate_limit)
    port, stop = run_in_thread(build_server_app({"clio": sandbox}))
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runtime = connect_to_sandbox(Path(tmp) / "billsync.toml", base, ["clio"])
            store = runtime.store
            requests.delete(f"{base}/_sandbox/clio/requests", timeout=10)  # count the sync alone
            tune_garbage_collector()
            started = time.perf_counter()
            report = runtime.runner.run_once()
            elapsed = time.perf_counter() - started
            log = requests.get(f"{base}/_sandbox/clio/requests", timeout=30).json()
            store.close()
    finally:
        stop()
    statuses = Counter(r["status"] for r in log)
    reads = [r for r in log if r["method"] == "GET"]
    writes = [r for r in log if r["method"] in ("POST", "PATCH")]
    records = sum(report.records_read.values())
    written = report.written + report.recovered
    print(f"clio sync benchmark: {args.activities:,} activities in the month, limit {args.rate_limit}/min per token")
    print(
        f"cycle: {elapsed:.1f} s, {len(log)} requests ({len(reads)} reads, {len(writes)} writes), "
        f"{written} entries written"
    )
    print(
        f"HTTP requests per entry written: {len(log) / max(written, 1):.3f} (all requests); "
        f"{len(writes) / max(written, 1):.3f} (write requests)  floor <= 1.1"
    )
    print(f"records per read request: {records / max(len(reads), 1):.1f}")
    print(
        f"429s: {statuses.get(429, 0)} of {len(log)} = {100 * statuses.get(429, 0) / max(len(log), 1):.2f} %"
        "  floor < 1 %"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
