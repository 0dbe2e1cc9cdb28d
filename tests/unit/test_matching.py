"""Matter resolution, step by step, in the firm's order; and who counts as a timekeeper."""

from __future__ import annotations

from datetime import timedelta

from core.matching import MatterResolver, normalize_phone
from core.models import MatterStatus
from core.policy import CapturePolicy, ContactRule
from tests.factories import T0, activity, client, matter, reference, timekeeper


def resolver(matters=None, clients=None, **policy):
    return MatterResolver(reference(matters=matters, clients=clients), CapturePolicy(enabled=True, **policy))


def test_step_1_explicit_link_wins_over_everything_else() -> None:
    other = matter(id="m2", number="HARB-0002")
    found = resolver(matters=[matter(), other]).resolve(activity(matter_id="m1", title="re HARB-0002"))
    assert found.matter is not None and found.matter.id == "m1"
    assert found.method == "link" and not found.suggested


def test_step_2_matter_number_in_title() -> None:
    found = resolver().resolve(activity(matter_id=None, title="Call about [HARB-0001] settlement"))
    assert found.matter is not None and found.matter.id == "m1" and found.method == "code"


def test_step_2_number_is_matched_whole_not_as_a_prefix() -> None:
    found = resolver().resolve(activity(matter_id=None, title="HARB-00011 is another thing", counterpart_addresses=()))
    assert found.matter is None


def test_step_2_matter_number_in_the_workspace_name() -> None:
    a = activity(matter_id=None, kind="document", title="Draft brief", workspace="Clients/Harbor/harb-0001/Pleadings")
    found = resolver().resolve(a)
    assert found.matter is not None and found.matter.id == "m1"


def test_step_2_two_matter_numbers_are_ambiguous() -> None:
    matters = [matter(), matter(id="m2", number="HARB-0002")]
    found = resolver(matters=matters).resolve(activity(matter_id=None, title="HARB-0001 and HARB-0002"))
    assert found.matter is None and "several" in found.reason


def test_step_3_contact_rule_naming_a_matter() -> None:
    rule = ContactRule(match="email", value="Pat@Outside.example", client_id="c1", matter_id="m1")
    a = activity(matter_id=None, title="hello", counterpart_addresses=("pat@outside.example",))
    found = resolver(contact_rules=[rule]).resolve(a)
    assert found.matter is not None and found.matter.id == "m1" and found.method == "contact"
    assert not found.suggested


def test_step_3_domain_and_phone_rules_name_a_client() -> None:
    matters = [matter(), matter(id="m9", client_id="c9", number="OTHER-1")]
    clients = [client(), client(id="c9", name="Other", emails=(), domains=(), phones=())]
    rules = [
        ContactRule(match="domain", value="other.example", client_id="c9"),
        ContactRule(match="phone", value="+1 555 777 0000", client_id="c9"),
    ]
    by_domain = resolver(matters, clients, contact_rules=rules).resolve(
        activity(matter_id=None, title="hi", counterpart_addresses=("ceo@other.example",))
    )
    by_phone = resolver(matters, clients, contact_rules=rules).resolve(
        activity(matter_id=None, title="hi", counterpart_addresses=("(555) 777-0000",))
    )
    assert by_domain.matter is not None and by_domain.matter.id == "m9"
    assert by_phone.matter is not None and by_phone.matter.id == "m9"


def test_step_3_clients_own_addresses_are_contact_rules_too() -> None:
    for address in ("gc@harbor.example", "someone@harbor.example", "555.010.2000"):
        found = resolver().resolve(activity(matter_id=None, title="hi", counterpart_addresses=(address,)))
        assert found.matter is not None and found.matter.id == "m1", address


def test_step_4_most_recently_updated_open_matter_is_a_suggestion() -> None:
    matters = [
        matter(id="old", number="H-1", updated_at=T0 - timedelta(days=90)),
        matter(id="new", number="H-2", updated_at=T0 - timedelta(days=1)),
        matter(id="closed", number="H-3", updated_at=T0, status=MatterStatus.CLOSED),
    ]
    found = resolver(matters).resolve(
        activity(matter_id=None, title="hi", counterpart_addresses=("gc@harbor.example",))
    )
    assert found.matter is not None and found.matter.id == "new"
    assert found.suggested and found.method == "recent"


def test_step_4_can_be_switched_off() -> None:
    found = resolver(suggest_recent_matter=False).resolve(
        activity(matter_id=None, title="hi", counterpart_addresses=("gc@harbor.example",))
    )
    assert found.matter is None and "client c1 known" in found.reason


def test_step_5_unassigned_with_reason() -> None:
    found = resolver().resolve(activity(matter_id=None, title="hi", counterpart_addresses=("x@nowhere.example",)))
    assert found.matter is None and found.reason == "no matter link, matter number or known contact"


def test_counterparts_of_two_clients_are_ambiguous() -> None:
    clients = [client(), client(id="c2", name="Two", emails=("a@two.example",), domains=(), phones=())]
    a = activity(matter_id=None, title="hi", counterpart_addresses=("gc@harbor.example", "a@two.example"))
    found = resolver(clients=clients).resolve(a)
    assert found.matter is None and "several clients" in found.reason


def test_closed_matters_never_receive_entries_even_when_linked_or_named() -> None:
    closed = [matter(status=MatterStatus.CLOSED)]
    linked = resolver(closed).resolve(activity())
    named = resolver(closed).resolve(activity(matter_id=None, title="HARB-0001"))
    suggested = resolver(closed).resolve(
        activity(matter_id=None, title="x", counterpart_addresses=("gc@harbor.example",))
    )
    assert linked.matter is None and "closed" in linked.reason
    assert named.matter is None and "closed" in named.reason
    assert suggested.matter is None and "no open matter" in suggested.reason


def test_unknown_explicit_link_falls_through_to_the_next_steps() -> None:
    found = resolver().resolve(activity(matter_id="gone", title="HARB-0001"))
    assert found.matter is not None and found.matter.id == "m1"


def test_actor_is_found_by_id_email_or_alias_case_insensitively() -> None:
    reference_data = reference(timekeepers=[timekeeper(aliases=("ms-graph-user-77",))])
    for actor in ("u1", "JANE@firm.example", "ms-graph-user-77"):
        found = reference_data.timekeeper_for(actor)
        assert found is not None and found.id == "u1"
    assert reference_data.timekeeper_for("nobody@firm.example") is None


def test_phone_numbers_compare_by_their_last_ten_digits() -> None:
    assert normalize_phone("+1 (555) 010-2000") == normalize_phone("555.010.2000") == "5550102000"


def test_a_workspace_naming_no_known_matter_says_so() -> None:
    found = resolver().resolve(
        activity(title="Engagement letter", workspace="0003-9999", matter_id=None, counterpart_addresses=())
    )
    assert found.matter is None and found.reason == "workspace '0003-9999' names no known matter"
