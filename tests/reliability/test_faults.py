"""Faults: every API route of every registered sandbox a firm talks to fails 30 % of the time.

Six kinds at 5 % each (429, 500, 502, timeout, connection reset, truncated body) on every API
route, reads and writes alike: Clio's and PracticePanther's as PMSs, and the
NetDocuments and Microsoft 365 sandboxes as a Clio firm's activity sources (LawPay's sandbox is
registered too, but a sync never calls it: payments are outside this suite). A truncated answer
to a POST is the nasty one: the PMS stored the entry and billsync never saw its id. Cycles run
until the outbox is empty, then the faults stop and one more cycle runs; the result must equal
a fault-free run over the same records. The sandboxes' OAuth routes take no fault rules (faults
apply after authentication), so they are not covered.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.conftest import report_figures, scale
from tests.reliability.firms import CLIO, PRACTICEPANTHER, SandboxFirm, Vendor, compare

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

KINDS = ("429", "500", "502", "timeout", "reset", "truncate")
SOURCES = ("netdocuments", "microsoft365")  # the activity sources whose sandboxes are registered


def _api(request: dict[str, object]) -> bool:
    return "/api/" in str(request.get("path", ""))


@pytest.mark.parametrize(
    ("vendor", "sources"),
    [
        (CLIO, ()),
        (PRACTICEPANTHER, ()),
        (CLIO, SOURCES),
    ],
    ids=["clio", "practicepanther", "clio+netdocuments+microsoft365"],
)
def test_thirty_percent_faults_on_every_route_give_the_fault_free_state(
    tmp_path: Path, vendor: Vendor, sources: tuple[str, ...]
) -> None:
    activities = scale(40, 150)
    seeds = range(scale(1, 3))
    clean = SandboxFirm(tmp_path / "clean", vendor, activities=activities, sources=sources)
    try:
        clean.sync_until_settled()
        expected = clean.snapshot()
        totals: Counter[str] = Counter()
        faults: Counter[str] = Counter()
        requests_made = cycles = lost_answers = 0
        per_sandbox: Counter[str] = Counter()
        for seed in seeds:
            faulty = SandboxFirm(tmp_path / f"faulty-{seed}", vendor, activities=activities, sources=sources)
            try:
                # The PMS's API routes, and every route of each source's sandbox that
                # takes faults (they apply after authentication, so token endpoints are spared).
                routes = {vendor.name: vendor.api_route, **{source: "*" for source in sources}}
                for sandbox, route in routes.items():
                    rules = [
                        {"route": route, "kind": kind, "probability": 0.05, "delay_seconds": 0.05, "retry_after": 0}
                        for kind in KINDS
                    ]
                    faulty.admin("POST", "faults", sandbox=sandbox, json={"rules": rules, "seed": seed})
                cycles += faulty.sync_until_settled(cycles=80)
                for sandbox in routes:
                    log = faulty.admin("GET", "requests", sandbox=sandbox).json()
                    faulty.admin("DELETE", "faults", sandbox=sandbox)
                    faulted = [r.get("fault") for r in log if r.get("fault")]
                    requests_made += len(log) if sandbox in sources else sum(1 for r in log if _api(r))
                    faults.update(faulted)
                    per_sandbox[sandbox] += len(faulted)
                    if sandbox == vendor.name:  # the PMS stored the entry; billsync never saw the answer
                        lost_answers += sum(1 for r in log if r.get("fault") == "truncate" and r["method"] == "POST")
                faulty.sync_until_settled()
                assert faulty.snapshot() == expected
                totals.update(compare(clean, faulty))
            finally:
                faulty.close()
        report_figures(
            "faults-" + "+".join((vendor.name, *sources)),
            runs=len(seeds),
            api_requests=requests_made,
            faults_injected=sum(faults.values()),
            fault_rate=f"{sum(faults.values()) / max(1, requests_made):.0%}",
            by_kind=dict(sorted(faults.items())),
            by_sandbox=dict(per_sandbox),
            post_answers_lost_after_write=lost_answers,
            cycles_to_settle=cycles,
            **totals,
        )
        assert set(faults) == set(KINDS), faults
        assert sum(faults.values()) >= 0.2 * requests_made
        assert totals["duplicate_remote_entries"] == 0
        assert totals["duplicate_local_entries"] == 0
        assert totals["lost_activities"] == 0
        assert totals["entries_not_in_pms"] == 0
        assert totals["remote_entries_missing"] == 0
    finally:
        clean.close()
