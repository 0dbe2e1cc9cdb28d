"""A small firm on a real sandbox server (Clio or PracticePanther) with billsync configured against it.

The sandbox is served by uvicorn on loopback in this process; billsync reaches it over real HTTP,
either in this process (`runtime`) or as a `billsync` child process (tests/reliability/crash_child.py).
What the tests compare is what a firm would check: which activities have entries, with what time,
words and state, and which entries exist in the PMS carrying billsync's `[bs:...]` marker.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from billsync_sandboxes.cli.sandbox import write_sandbox_config
from billsync_sandboxes.demo.data import SyntheticFirm, generate_firm
from billsync_sandboxes.kit.server import build_server_app

from config.settings import load_settings
from core.cli.vendors import connect_account
from core.http import HttpClient, RetryPolicy
from core.models import EntryState
from core.plugins import DEMO_SEEDS, SANDBOX_SETTINGS, SANDBOXES, load
from core.runtime import FirmRuntime, build_runtime
from core.serving import run_in_thread
from core.store.store import Store
from core.store.sync_state import PENDING, SENDING

FIRM = "demo"
MONTH = datetime(2026, 10, 1, tzinfo=UTC)
SEED_NOW = datetime(2026, 11, 1, tzinfo=UTC)
# One "now" for every source seed of a run, so two firms built a second apart hold the same records.
SOURCES_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

# Names a person or a vendor could give a user, a client or a matter, each one an attack on an
# output: Rich markup on the terminal, a spreadsheet formula in CSV, a NUL byte, a name longer
# than any screen, and an HTML link dressed as a sign-in prompt.
MARKUP_NAME = "[/bold] [link=http://evil.example]click[/link] [red]x"
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
NUL_NAME = "Nul\x00Byte"
LONG_NAME = "Long" + "o" * 9_991 + " Name"  # 10,000 characters
LINK_NAME = '<a href="https://evil.example/login">Session expired - sign in</a>'
HOSTILE_NAMES = (MARKUP_NAME, FORMULA_NAME, NUL_NAME, LINK_NAME, LONG_NAME)


@dataclass(frozen=True)
class Vendor:
    """Where a PMS keeps billsync's entries and how they carry its marker."""

    name: str
    entries: str  # admin collection holding time entries
    note_field: str  # the field carrying `[bs:<hash>]`
    api_route: str  # glob covering every API route of the sandbox (fault rules)
    entry_type: str | None = None  # Clio keeps time and expenses in one collection

    def billsync_entries(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            r
            for r in records
            if (self.entry_type is None or r.get("type") == self.entry_type)
            and "[bs:" in (r.get(self.note_field) or "")
        ]

    def marker_of(self, record: dict[str, Any]) -> str:
        return str(record[self.note_field]).rsplit("[bs:", 1)[1].split("]", 1)[0]


CLIO = Vendor("clio", "activities", "note", "/api/v4/*", entry_type="TimeEntry")
PRACTICEPANTHER = Vendor("practicepanther", "timeentries", "private_notes", "/api/v2/*")
VENDORS = {v.name: v for v in (CLIO, PRACTICEPANTHER)}


def with_hostile_names(firm: SyntheticFirm) -> SyntheticFirm:
    """The same firm with every user, client and matter renamed, in turn, to one of HOSTILE_NAMES.

    Users are named from MARKUP_NAME on, matters too, and clients from LONG_NAME on (billsync
    keeps at most 500 characters of a Clio matter's description, a client's name whole): with 3
    users, 4 clients and 8 matters every name reaches the outputs of some grouping. Ids, e-mail
    addresses and matter numbers stay, so activity is matched exactly as before.
    """

    def name(first: str, i: int) -> str:
        return HOSTILE_NAMES[(HOSTILE_NAMES.index(first) + i) % len(HOSTILE_NAMES)]

    return SyntheticFirm(
        timekeepers=[tk.model_copy(update={"name": name(MARKUP_NAME, i)}) for i, tk in enumerate(firm.timekeepers)],
        clients=[c.model_copy(update={"name": name(LONG_NAME, i)}) for i, c in enumerate(firm.clients)],
        matters=[m.model_copy(update={"name": name(MARKUP_NAME, i)}) for i, m in enumerate(firm.matters)],
        categories=firm.categories,
        activities=firm.activities,
    )


def fast_http(attempts: int = 6) -> HttpClient:
    """The real HTTP client with its real retry policy, minus the real sleeping."""
    return HttpClient(policy=RetryPolicy(attempts=attempts), sleep=lambda _: None, timeout=(2.0, 5.0))


class SandboxFirm:
    """One firm on its own sandbox server, configured (config file, SQLite store, key file) and connected.

    `hostile_names`: its users, clients and matters carry HOSTILE_NAMES (see with_hostile_names).
    """

    def __init__(
        self,
        tmp: Path,
        vendor: Vendor = CLIO,
        *,
        activities: int = 40,
        body: str = "Privileged: settlement strategy",
        seed_edit: Callable[[dict[str, Any]], None] | None = None,
        sandbox_factory: Callable[[dict[str, Any]], Any] | None = None,
        http: HttpClient | None = None,
        extra_config: str = "",
        client_secret: str | None = None,
        sources: tuple[str, ...] = (),
        hostile_names: bool = False,
    ) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.vendor = vendor
        synthetic = generate_firm(
            timekeepers=3, clients=4, matters=8, activities=activities, seed=11, month_start=MONTH, body=body
        )
        if hostile_names:
            synthetic = with_hostile_names(synthetic)
        self.seed: dict[str, Any] = load(DEMO_SEEDS, vendor.name)(synthetic, now=SEED_NOW)
        if seed_edit is not None:
            seed_edit(self.seed)
        build = sandbox_factory or (lambda seed: load(SANDBOXES, vendor.name)(seed, rate_limit_per_minute=100_000))
        self.sandbox = build(self.seed)
        self.sources = sources
        sandboxes = {vendor.name: self.sandbox}
        for source in sources:  # activity sources keep recent history only: seeded relative to now
            seed = load(DEMO_SEEDS, source)(synthetic, now=SOURCES_NOW)
            sandboxes[source] = load(SANDBOXES, source)(seed, rate_limit_per_minute=100_000)
        self.port, self._stop = run_in_thread(build_server_app(sandboxes))
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "billsync.toml"
        write_sandbox_config(
            self.config, self.base, [vendor.name, *sources], extra=extra_config, sources=list(sources)
        )
        if client_secret is not None:  # the sandbox was built with this secret too
            default = load(SANDBOX_SETTINGS, vendor.name)(self.base)["client_secret"]
            text = self.config.read_text(encoding="utf-8")
            self.config.write_text(text.replace(json.dumps(default), json.dumps(client_secret)), encoding="utf-8")
        self.settings = load_settings(self.config)
        self.store = Store.open(self.settings.database_url)
        self.runtime: FirmRuntime = build_runtime(
            self.settings, FIRM, self.store, http=http or fast_http(), retry_delay=timedelta(0)
        )
        connect_account(self.runtime, auto_approve=True)

    # The PMS, as a person sees it -----------------------------------------------------------------

    def admin(self, method: str, path: str, *, sandbox: str | None = None, **kwargs: Any) -> requests.Response:
        """Call a sandbox's admin API (the PMS's unless `sandbox` names a source)."""
        name = sandbox or self.vendor.name
        response = requests.request(method, f"{self.base}/_sandbox/{name}/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def remote_entries(self) -> list[dict[str, Any]]:
        """Entries in the PMS that billsync wrote."""
        return self.vendor.billsync_entries(self.admin("GET", self.vendor.entries).json())

    def remote_markers(self) -> Counter[str]:
        return Counter(self.vendor.marker_of(r) for r in self.remote_entries())

    # billsync's side ----------------------------------------------------------------------------

    def snapshot(self) -> Counter[tuple[Any, ...]]:
        """Which activities have entries, with what time and words, in which state."""
        return Counter((e.activity_key, e.billed_seconds, e.narrative, e.state) for e in self.store.entries(FIRM))

    def outbox_settled(self) -> bool:
        counts = self.runtime.runner.state.counts(FIRM)
        return not any(status in (PENDING, SENDING) for status in counts)

    def sync_until_settled(self, cycles: int = 40) -> int:
        """Run whole cycles until the outbox is empty; returns the cycles it took."""
        for cycle in range(1, cycles + 1):
            try:
                self.runtime.runner.run_once()
            except Exception:  # a cycle may end on an injected fault; the next one resumes
                continue
            if self.outbox_settled():
                return cycle
        raise AssertionError(f"outbox did not drain: {self.runtime.runner.state.counts(FIRM)}")

    def close(self) -> None:
        self.store.close()
        self._stop()


def compare(expected: SandboxFirm, actual: SandboxFirm) -> dict[str, int]:
    """Duplicates and losses of `actual` against the fault-free `expected` (both settled)."""
    expected_keys = {e.activity_key for e in expected.store.entries(FIRM)}
    entries = actual.store.entries(FIRM)
    actual_keys = Counter(e.activity_key for e in entries)
    markers = actual.remote_markers()
    unposted = sum(1 for e in entries if e.remote_id is None and e.state is not EntryState.DELETED_REMOTELY)
    unposted_expected = sum(1 for e in expected.store.entries(FIRM) if e.remote_id is None)
    return {
        "activities": len(expected_keys),
        "remote_entries": sum(markers.values()),
        "duplicate_remote_entries": sum(n - 1 for n in markers.values() if n > 1),
        "duplicate_local_entries": sum(n - 1 for n in actual_keys.values() if n > 1),
        "lost_activities": len(expected_keys - set(actual_keys)),
        "entries_not_in_pms": unposted - unposted_expected,
        "remote_entries_missing": sum(expected.remote_markers().values()) - sum(markers.values()),
    }
