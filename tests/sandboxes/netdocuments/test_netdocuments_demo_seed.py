"""The demo seed: the demo firm's attorneys, their document work, on the demo firm's matters."""

from __future__ import annotations

from datetime import UTC, datetime

from billsync_sandboxes.demo.data import generate_firm
from billsync_sandboxes.netdocuments.seed import CLIENT_ATTRIBUTE, MATTER_ATTRIBUTE, netdocuments_seed
from billsync_sandboxes.netdocuments.state import NetDocumentsSandbox

from core.plugins import DEMO_SEEDS, load

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_seed_uses_the_firms_people_and_matter_numbers() -> None:
    firm = generate_firm(timekeepers=6, clients=10, matters=24, activities=400, seed=5)
    data = load(DEMO_SEEDS, "netdocuments")(firm, now=NOW)
    internal = {u["email"] for u in data["users"] if not u["external"]}
    assert internal == {tk.email for tk in firm.timekeepers}
    numbers = {m.number for m in firm.matters}
    profiled, unprofiled = 0, 0
    for document in data["documents"]:
        values = {a["id"]: a["value"] for a in document["customAttributes"]}
        if values:
            assert f"{values[CLIENT_ATTRIBUTE]}-{values[MATTER_ATTRIBUTE]}" in numbers
            profiled += 1
        else:
            unprofiled += 1
    assert profiled > 10 and unprofiled > 0
    actors = {e["activity"]["user"]["email"] for e in data["log"]}
    assert actors & internal and all(e["activity"]["date"] < "2026-11-01" for e in data["log"])
    names = {e["activity"]["name"] for e in data["log"]}
    assert {"Create", "Edit", "View"} <= names


def test_the_seed_is_deterministic_and_loads_into_the_sandbox() -> None:
    firm = generate_firm(timekeepers=4, clients=5, matters=8, activities=120, seed=9)
    assert netdocuments_seed(firm, now=NOW) == netdocuments_seed(firm, now=NOW)
    sandbox = NetDocumentsSandbox(netdocuments_seed(firm, now=NOW))
    assert sandbox.documents and sandbox.log
