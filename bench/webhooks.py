"""Webhook receiver benchmark: signed Clio deliveries at a steady rate against the daemon's HTTP app.

Starts a local Clio sandbox firm and billsync's app on uvicorn (both on 127.0.0.1, port 0),
subscribes, then sends a bounded load of signed deliveries (default 200 requests/s for 10 s)
from a thread pool of requests sessions. Prints ack latency p50/p99 (floor: p99 under 50 ms)
and, from communications created through the sandbox admin API during the load, event-to-entry
latency p95 (until the entry is in the store). Traffic goes only to 127.0.0.1. Run with
`python -m bench.webhooks`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import requests
from billsync_sandboxes.cli.sandbox import connect_to_sandbox
from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.kit import hmac_sha256_hex
from billsync_sandboxes.kit.server import build_server_app

from config.settings import load_settings
from core.logging import configure_logging
from core.plugins import DEMO_SEEDS, SANDBOXES, load
from core.process import tune_garbage_collector
from core.runtime import FirmRuntime
from core.server import BackgroundWork, build_app
from core.serving import run_in_thread, serve

ACK_P99_FLOOR_SECONDS = 0.050
HOST = "127.0.0.1"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Load:
    """Signed deliveries at a fixed rate, each timed from send to answer."""

    def __init__(self, url: str, hook_id: int, secret: str, *, rate: float, seconds: float, threads: int) -> None:
        self.url, self.hook_id, self.secret = url, hook_id, secret
        self.rate, self.seconds = rate, seconds
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load")
        self.local = threading.local()
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def _send(self, number: int) -> None:
        # A fresh delivery each time (its own record id and etag), so none is deduplicated away.
        payload = {
            "data": {"id": 900_000 + number, "etag": f"bench-{number}", "updated_at": "2026-10-30T15:00:00Z"},
            "meta": {"event": "updated", "webhook_id": self.hook_id},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Hook-Signature": hmac_sha256_hex(self.secret, body)}
        started = time.perf_counter()
        try:
            status = self._session().post(self.url, data=body, headers=headers, timeout=5).status_code
        except requests.RequestException:
            status = 0
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[status] += 1

    def run(self) -> None:
        """Send `rate` requests per second for `seconds`, on schedule, then wait for the answers."""
        total = int(self.rate * self.seconds)
        start = time.perf_counter()
        futures: list[Future[None]] = []
        for number in range(total):
            due = start + number / self.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            futures.append(self.pool.submit(self._send, number))
        for future in futures:
            future.result()
        self.pool.shutdown()


def probe_event_to_entry(admin: str, runtime: FirmRuntime, seed: dict, stop: threading.Event, out: list[float]) -> None:
    """Log calls in the sandbox one by one and time each until its entry is in the store."""
    user = seed["users"][0]["id"]
    matter = next(m for m in seed["matters"] if m["status"] == "Open")
    moment = datetime(2026, 10, 2, 8, tzinfo=UTC)
    session = requests.Session()
    number = 0
    while not stop.is_set():
        number += 1
        moment += timedelta(hours=3)  # apart, so no call merges into the previous one's entry
        before = len(runtime.store.entries("demo"))
        call = {
            "type": "PhoneCommunication",
            "subject": f"bench call {number}",
            "date": moment.date().isoformat(),
            "received_at": moment.isoformat().replace("+00:00", "Z"),
            "user": {"id": user},
            "matter": {"id": matter["id"]},
            "senders": [],
            "receivers": [],
        }
        started = time.perf_counter()
        session.post(f"{admin}/communications", json=call, timeout=10).raise_for_status()
        deadline = started + 10
        while len(runtime.store.entries("demo")) <= before and time.perf_counter() < deadline:
            time.sleep(0.005)
        if len(runtime.store.entries("demo")) > before:
            out.append(time.perf_counter() - started)
        stop.wait(0.25)
    session.close()


def firm_seed() -> dict:
    """The synthetic firm, identical in every process that builds it."""
    synthetic = generate_firm(timekeepers=4, clients=6, matters=10, activities=60, seed=5)
    return dict(load(DEMO_SEEDS, "clio")(synthetic, now=datetime(2026, 11, 1, tzinfo=UTC)))


def serve_sandbox(ports: Queue[int]) -> None:
    """Child process: the Clio sandbox, so its work does not share the app's interpreter lock."""
    configure_logging(level="error")
    sandbox = load(SANDBOXES, "clio")(firm_seed(), rate_limit_per_minute=1_000_000)
    serve(build_server_app({"clio": sandbox}), host=HOST, port=0, on_ready=ports.put)


def send_load(url: str, hook_id: int, secret: str, rate: float, seconds: float, threads: int, out: Queue[Any]) -> None:
    """Child process: the load generator, so the client's CPU is not charged to the server."""
    run = Load(url, hook_id, secret, rate=rate, seconds=seconds, threads=threads)
    started = time.perf_counter()
    run.run()
    out.put((run.latencies, dict(run.statuses), time.perf_counter() - started))


def main(argv: list[str]) -> int:
    """Run the load and print the figures; exit 1 when the ack p99 floor is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    configure_logging(level="error")
    seed = firm_seed()
    spawn = multiprocessing.get_context("spawn")  # no fork: this process runs threads
    ports: Queue[int] = spawn.Queue()
    sandbox_process = spawn.Process(target=serve_sandbox, args=(ports,), daemon=True)
    sandbox_process.start()
    sandbox_port = ports.get(timeout=60)
    sandbox_base = f"http://{HOST}:{sandbox_port}"
    worker = BackgroundWork()
    probes: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "billsync.toml"
            runtime = connect_to_sandbox(config, sandbox_base, ["clio"])
            settings, store = load_settings(config), runtime.store
            runtime.runner.run_once()
            app = build_app({"demo": runtime}, settings=settings, worker=worker)
            app_port, stop_app = run_in_thread(app)
            try:
                callback = f"http://{HOST}:{app_port}/hooks/clio/demo"
                subscription = runtime.runner.ensure_webhooks(callback)
                assert subscription is not None, "no webhook subscription"
                hook_id = next(
                    int(p.split(":")[1]) for p in subscription.id.split(",") if p.startswith("communication:")
                )
                secret = json.loads(subscription.secret)[str(hook_id)]
                tune_garbage_collector()
                results: Queue[Any] = spawn.Queue()
                loader = spawn.Process(
                    target=send_load, args=(callback, hook_id, secret, args.rate, args.seconds, args.threads, results)
                )
                stop_probe = threading.Event()
                admin = f"{sandbox_base}/_sandbox/clio"
                prober = threading.Thread(target=probe_event_to_entry, args=(admin, runtime, seed, stop_probe, probes))
                prober.start()
                loader.start()
                lat, statuses, elapsed = results.get(timeout=args.seconds + 120)
                loader.join(timeout=10)
                stop_probe.set()
                prober.join(timeout=15)
                worker.wait_idle(30)
                metrics = app.state.metrics.render().decode()
            finally:
                stop_app()
            store.close()
    finally:
        worker.close()
        sandbox_process.terminate()  # the child started above, by its own handle
        sandbox_process.join(timeout=10)
    p50, p99 = percentile(lat, 0.50), percentile(lat, 0.99)
    repolls = next(
        (
            line.split()[-1]
            for line in metrics.splitlines()
            if line.startswith('billsync_background_jobs_total{kind="repoll",outcome="ok"}')
        ),
        "0",
    )
    print(f"webhook benchmark: {len(lat)} signed Clio deliveries in {elapsed:.1f} s ({len(lat) / elapsed:.0f}/s)")
    print(f"statuses: {dict(sorted(statuses.items()))}; background re-polls run: {repolls}")
    print(
        f"ack latency: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms"
        f"  floor: p99 < {ACK_P99_FLOOR_SECONDS * 1000:.0f} ms"
    )
    if probes:
        print(
            f"event-to-entry: p95 {percentile(probes, 0.95) * 1000:.0f} ms, p50 {percentile(probes, 0.5) * 1000:.0f} ms"
            f" over {len(probes)} calls logged during the load"
        )
    else:
        print("event-to-entry: no entry appeared")
    ok = p99 < ACK_P99_FLOOR_SECONDS and statuses.get(200, 0) == len(lat) and bool(probes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
