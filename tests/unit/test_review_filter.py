"""The review filter: names to ids as a person types them, and what it refuses in one line."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import BillsyncError
from core.models import EntryState
from core.reports.review_filter import WAITING, ReviewFilter, total_line
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


def test_a_part_of_one_name_picks_that_record() -> None:
    # Harbor Insurance is the factory's client c1; Globex is c2; Jane's e-mail is jane@firm.example.
    query = ReviewFilter(client="HARBOR", matter="glob", timekeeper="jane").query(FIRM)
    assert (query.client_ids, query.matter_ids, query.timekeeper_ids) == (("c1",), ("m2",), ("u1",))
    with pytest.raises(BillsyncError) as raised:
        ReviewFilter(client="o").query(FIRM)  # in both names
    assert str(raised.value) == "2 clients match 'o': 'Globex', 'Harbor Insurance'; type more of one"
    with pytest.raises(BillsyncError) as by_id:
        ReviewFilter(client="2").query(FIRM)  # a part of an id ("c2") is not a name
    assert str(by_id.value) == "no client '2' (give its id or name)"


def test_a_part_several_names_share_names_five_of_them_each_cut_to_60() -> None:
    long_name = "Acme " + "x" * 10_000  # one name of 10,000 characters
    firm = reference(
        [timekeeper()],
        [client(id=f"c{i}", name=f"Acme {i} Ltd") for i in range(1, 7)] + [client(id="c9", name=long_name)],
        [matter()],
    )
    with pytest.raises(BillsyncError) as raised:
        ReviewFilter(client="acme").query(firm)
    said = str(raised.value)
    # Seven match; sorted by name, five are named: 'Acme 1 Ltd' .. 'Acme 5 Ltd' sort before 'Acme xxx…'.
    assert said == (
        "7 clients match 'acme': 'Acme 1 Ltd', 'Acme 2 Ltd', 'Acme 3 Ltd', 'Acme 4 Ltd', 'Acme 5 Ltd'"
        " and 2 more; type more of one"
    )
    with pytest.raises(BillsyncError) as cut:
        ReviewFilter(client="xxx").query(
            reference([timekeeper()], [client(id="c8", name="xxx Two"), client(id="c9", name=long_name)], [matter()])
        )
    assert str(cut.value) == f"2 clients match 'xxx': 'Acme {'x' * 54}…', 'xxx Two'; type more of one"


@pytest.mark.parametrize(
    ("shown", "total", "offset", "noun", "line"),
    [
        (1, 1, 0, "entries", "showing 1 of 1 entry"),
        (50, 206, 0, "entries", "showing 1-50 of 206 entries; --offset 50 for the next"),
        (1, 7, 6, "entries", "showing 7 of 7 entries"),
        (1, 1, 0, "parked activities", "showing 1 of 1 parked activity"),
        (0, 1, 3, "entries", "none of 1 entry at offset 3"),
        (0, 0, 0, "entries", "no entries"),
    ],
)
def test_the_total_line_counts_in_words(shown: int, total: int, offset: int, noun: str, line: str) -> None:
    assert total_line(shown, total, offset, noun) == line
