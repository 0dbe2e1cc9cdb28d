"""A deterministic synthetic firm: reference data and a month of activity.

Used by `billsync demo` (a small firm) and by the engine benchmark (a large one). The mix
follows what capture meets in practice: most activity is linked or names a known contact,
some carries a matter number in its title, some cannot be placed at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.models import (
    Activity,
    ActivityCategory,
    ActivityKind,
    BillingMethod,
    Client,
    Discount,
    Matter,
    MatterRate,
    MatterStatus,
    PostalAddress,
    Timekeeper,
)

_FIRST = ("Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Isla", "Jamal", "Kara", "Luis")
_LAST = ("Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Usman", "Vega", "Walsh")
_COMPANIES = ("Harbor", "Summit", "Pioneer", "Cedar", "Atlas", "Beacon", "Granite", "Willow", "Orion")
_CLASSES = (("PARTNR", 550), ("ASSOC", 350), ("OFCNSL", 450), ("PRLGL", 175))
# Where demo clients' bills go: (city, state, ZIP). Chosen by index, never by the random
# generator, so adding addresses left every other generated value as it was.
_CITIES = (("Boston", "MA", "02110"), ("Providence", "RI", "02903"), ("Hartford", "CT", "06103"))
_SUBJECTS = (
    "settlement offer",
    "discovery schedule",
    "deposition prep",
    "lease amendment",
    "motion to compel",
    "closing checklist",
    "custody schedule",
    "expert report",
)
_DOCUMENTS = ("Engagement letter", "Motion to compel", "Demand letter", "Asset purchase agreement")
_EVENTS = ("Client meeting", "Hearing on motion to dismiss", "Strategy session", "Mediation")
_KIND_MIX = (
    (ActivityKind.CALL, 25),
    (ActivityKind.EMAIL, 30),
    (ActivityKind.SMS, 10),
    (ActivityKind.DOCUMENT, 12),
    (ActivityKind.EVENT, 12),
    (ActivityKind.TASK, 6),
    (ActivityKind.NOTE, 5),
)
PRIVILEGED_BODY = "Privileged and confidential: client admits the contract was backdated."


@dataclass(frozen=True)
class SyntheticFirm:
    """Reference data and activities of a generated firm."""

    timekeepers: list[Timekeeper]
    clients: list[Client]
    matters: list[Matter]
    categories: list[ActivityCategory]
    activities: list[Activity]


def generate_firm(
    *,
    timekeepers: int = 12,
    clients: int = 40,
    matters: int = 120,
    activities: int = 1500,
    month_start: datetime = datetime(2026, 10, 1, tzinfo=UTC),
    seed: int = 7,
    body: str = PRIVILEGED_BODY,
) -> SyntheticFirm:
    """A firm of the given size with a month of activity; the same seed gives the same firm."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data: reproducible, not secret
    tks = [_timekeeper(i, rng) for i in range(timekeepers)]
    cls = [_client(i, tks, rng) for i in range(clients)]
    mts = [_matter(i, cls[i % clients], month_start, rng) for i in range(matters)]
    cats = [
        ActivityCategory(id="cat-comm", name="Communication"),
        ActivityCategory(id="cat-draft", name="Drafting", rate=Decimal("300")),
        ActivityCategory(id="cat-filing", name="Court filing (flat)", rate=Decimal("95"), flat=True),
    ]
    by_client: dict[str, list[Matter]] = {}
    for m in mts:
        by_client.setdefault(m.client_id, []).append(m)
    acts = [
        _activity(
            i=i, tks=tks, clients=cls, matters=mts, by_client=by_client, month_start=month_start, rng=rng, body=body
        )
        for i in range(activities)
    ]
    return SyntheticFirm(tks, cls, mts, cats, acts)


def _timekeeper(i: int, rng: random.Random) -> Timekeeper:
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
    classification, rate = _CLASSES[i % len(_CLASSES)]
    staff = i % 10 == 9  # a receptionist or IT: uses the systems, records no time
    return Timekeeper(
        id=f"u{i + 1}",
        name=f"{first} {last}" + (f" {i // len(_FIRST)}" if i >= len(_FIRST) else ""),
        email=f"{first.lower()}.{last.lower()}{i}@firm.example",
        default_rate=Decimal(rate + rng.choice((0, 25, 50))),
        may_record_time=not staff,
        classification="OTH" if staff else classification,
        time_zone=rng.choice(("America/New_York", "America/Chicago", "America/Los_Angeles")),
    )


def _client(i: int, tks: list[Timekeeper], rng: random.Random) -> Client:
    domain = f"{_COMPANIES[i % len(_COMPANIES)].lower()}{i}.example.com"
    approved = None
    if i % 8 == 0:  # insurers and corporates publish approved rates
        approved = {tk.id: tk.default_rate - 25 for tk in rng.sample(tks, k=max(1, len(tks) // 2))}
    return Client(
        id=f"c{i + 1}",
        name=f"{_COMPANIES[i % len(_COMPANIES)]} Holdings {i + 1}",
        emails=(f"gc@{domain}",),
        domains=(domain,),
        phones=(f"+1 555 {100 + i:03d} {1000 + i:04d}",),
        rates={tk.id: tk.default_rate - 10 for tk in tks[:2]} if i % 5 == 0 else {},
        approved_rates=approved,
        discount=Discount(kind="percent", value=Decimal("10")) if i % 7 == 0 else None,
        ledes_client_id=f"LC{i + 1:05d}" if i % 6 == 0 else None,
        address=PostalAddress(
            street=f"{100 + i} {_COMPANIES[i % len(_COMPANIES)]} Street\nSuite {200 + i}",
            city=_CITIES[i % len(_CITIES)][0],
            region=_CITIES[i % len(_CITIES)][1],
            postcode=_CITIES[i % len(_CITIES)][2],
            country="United States",
        ),
    )


def _matter(i: int, client: Client, month_start: datetime, rng: random.Random) -> Matter:
    method = rng.choices(list(BillingMethod), weights=(80, 12, 8))[0]
    status = rng.choices(list(MatterStatus), weights=(85, 5, 10))[0]
    ebilling = i % 7 == 0
    return Matter(
        id=f"m{i + 1}",
        client_id=client.id,
        number=f"{int(client.id[1:]):04d}-{i + 1:04d}",
        name=f"{client.name} / {rng.choice(_SUBJECTS).title()}",
        status=status,
        billing_method=method,
        billable=i % 20 != 19,
        updated_at=month_start - timedelta(days=rng.randint(0, 400), minutes=i),
        rates=(MatterRate(rate=Decimal(rng.choice((275, 325, 395)))),) if i % 9 == 0 else (),
        discount=Discount(kind="fixed_per_hour", value=Decimal("20")) if i % 11 == 0 else None,
        cap_amount=Decimal(rng.choice((2500, 5000))) if i % 13 == 0 else None,
        ebilling=ebilling,
        task_code=rng.choice(("L110", "L120", "L210", "L310")) if ebilling and i % 2 == 0 else None,
    )


def _activity(
    *,
    i: int,
    tks: list[Timekeeper],
    clients: list[Client],
    matters: list[Matter],
    by_client: dict[str, list[Matter]],
    month_start: datetime,
    rng: random.Random,
    body: str,
) -> Activity:
    kind = rng.choices([k for k, _ in _KIND_MIX], weights=[w for _, w in _KIND_MIX])[0]
    actor = rng.choice(tks)
    day = month_start + timedelta(days=rng.randrange(30))
    start = day.replace(hour=13) + timedelta(minutes=rng.randrange(0, 9 * 60))
    client = rng.choice(clients)
    matter = rng.choice(by_client.get(client.id) or matters)
    subject = rng.choice(_SUBJECTS)
    title, matter_id = subject, None
    addresses: tuple[str, ...] = (client.emails[0],)
    signal = rng.random()
    if signal < 0.45:
        matter_id = matter.id  # linked in the source
    elif signal < 0.60:
        title = f"[{matter.number}] {subject}"  # matter number in the subject
    elif signal < 0.88:
        pass  # only the client's address: resolved through the contact
    else:
        addresses = (f"someone{i}@unknown.example.org",)  # cannot be placed
    seconds: int | None = None
    end: datetime | None = None
    if kind is ActivityKind.CALL:
        seconds = rng.randint(45, 40 * 60)
        end = start + timedelta(seconds=seconds)
        addresses = client.phones
    elif kind is ActivityKind.EVENT:
        end = start + timedelta(minutes=rng.choice((30, 45, 60, 90, 120)))
        title = rng.choice(_EVENTS) + (f" [{matter.number}]" if signal >= 0.45 and signal < 0.60 else "")
    elif kind is ActivityKind.DOCUMENT:
        title = rng.choice(_DOCUMENTS) + (f" {matter.number}" if 0.45 <= signal < 0.60 else "")
    return Activity(
        source="synthetic",
        external_id=f"act-{i + 1}",
        kind=kind,
        actor=actor.email or actor.id,
        started_at=start,
        ended_at=end,
        duration_seconds=seconds,
        title=title,
        counterpart=client.name if kind in (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.SMS) else None,
        counterpart_addresses=addresses,
        matter_id=matter_id,
        covered_by_time_entry=rng.random() < 0.03,
        body=body if kind in (ActivityKind.EMAIL, ActivityKind.SMS, ActivityKind.CALL, ActivityKind.NOTE) else None,
    )
