"""Narratives: kind + safe title, worded the way a reviewing partner reads them."""

from __future__ import annotations

from core.models import ActivityKind
from core.narrative import narrative_for
from tests.factories import activity


def test_a_document_title_that_names_its_action_is_not_prefixed_again() -> None:
    revised = activity(kind=ActivityKind.DOCUMENT, title="Revised: Motion to compel")
    assert narrative_for(revised) == "Revised: Motion to compel"
    assert narrative_for(activity(kind=ActivityKind.DOCUMENT, title="New version: Lease")) == "New version: Lease"
    assert narrative_for(activity(kind=ActivityKind.DOCUMENT, title="Motion to compel")) == "Drafted: Motion to compel"
