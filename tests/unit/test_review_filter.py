"""The review filter: names to ids as a person types them, and what it refuses in one line."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import BillsyncError
from core.models import EntryState
from core.reports.review_filter import WAITING, ReviewFilter
from tests.factories import client, matter, reference, timekeeper

FIRM = reference(
    [
        timekeeper(),
        timekeeper(id="u2", name="Sam Lee", email="sam@firm.example"),
        timekeeper(id="u3", name="Sam Lee", email="sam.lee@firm.example"),
    ],
    [client(), client(id="c2", name="Globex")],
    [matter(), matter(id="m2", client_id="c2", number="GLOB-0002")],
)


def test_names_become_ids_whatever_their_case() -> None:
    query = ReviewFilter(timekeeper="JANE@firm.example", matter="glob-0002", client="harbor insurance").query(FIRM)
    assert (query.timekeeper_ids, query.matter_ids, query.client_ids) == (("u1",), ("m2",), ("c1",))
    assert ReviewFilter(timekeeper="u2").query(FIRM).timekeeper_ids == ("u2",)  # an id wins over names
    assert ReviewFilter().query(FIRM).states == WAITING
    assert ReviewFilter(states=(EntryState.REJECTED,)).query(FIRM).states == (EntryState.REJECTED,)


@pytest.mark.parametrize(
    ("wanted", "said"),
    [
        (ReviewFilter(timekeeper="Sam Lee"), "2 timekeepers are called 'Sam Lee': give the id of one"),
        (ReviewFilter(matter="NOPE-1"), "no matter 'NOPE-1' (give its id or number)"),
        (ReviewFilter(client="Initech"), "no client 'Initech' (give its id or name)"),
        (
            ReviewFilter(first_day=date(2026, 10, 9), last_day=date(2026, 10, 1)),
            "from 2026-10-09 is after to 2026-10-01: no work date is both",
        ),
    ],
)
def test_what_cannot_be_meant_is_one_clear_line(wanted: ReviewFilter, said: str) -> None:
    with pytest.raises(BillsyncError) as raised:
        wanted.query(FIRM)
    assert str(raised.value) == said


def test_an_unknown_rule_names_the_rules() -> None:
    with pytest.raises(BillsyncError, match=r"no rule 'duplicated' \(the rules: .*duplicate, increment"):
        ReviewFilter(finding="duplicated").query(FIRM)


def test_a_form_becomes_the_same_filter_and_back() -> None:
    fields = {"timekeeper": " jane@firm.example ", "from": "2026-10-05", "clean": "1", "state": "", "token": "x"}
    wanted = ReviewFilter.from_fields(fields)
    assert wanted == ReviewFilter(timekeeper="jane@firm.example", first_day=date(2026, 10, 5), clean=True)
    assert wanted.fields() == {"timekeeper": "jane@firm.example", "from": "2026-10-05", "clean": "1"}
    assert wanted.narrows and not ReviewFilter(states=(EntryState.BLOCKED,)).narrows
    with pytest.raises(BillsyncError, match="no entry state 'gone'"):
        ReviewFilter.from_fields({"state": "gone"})
    with pytest.raises(BillsyncError, match="to '5/10' is not a date"):
        ReviewFilter.from_fields({"to": "5/10"})
