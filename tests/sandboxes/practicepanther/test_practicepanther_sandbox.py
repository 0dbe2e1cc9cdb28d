"""The PracticePanther sandbox keeps to docs/vendors/practicepanther.md: OAuth, bare arrays, $top/$skip, PUT replace,
limits."""

from __future__ import annotations

import pytest
from billsync_sandboxes.kit import ConnectionDropped

from tests.connectors.practicepanther.app import API, make_app
from tests.connectors.practicepanther.seed import ACME, HOURLY, JANE


def test_lists_are_bare_arrays_paged_with_top_and_skip() -> None:
    app = make_app()
    seen: list[str] = []
    skip = 0
    while True:
        page = app.get("calllogs", **{"$top": 1, "$skip": skip, "$orderby": "created_at asc,id asc"}).json()
        assert isinstance(page, list)
        seen += [r["id"] for r in page]
        if len(page) < 1:
            break
        skip += 1
    assert len(seen) == len(set(seen)) == 2
    everything = app.get("calllogs").json()  # no $top: the whole table (docs/vendors/practicepanther.md §4)
    assert len(everything) == 2


def test_responses_have_zone_less_timestamps_and_resolved_refs() -> None:
    app = make_app()
    [matter] = [m for m in app.get("matters").json() if m["id"] == HOURLY]
    assert matter["updated_at"] == "2026-03-03T10:00:00"
    assert matter["account_ref"] == {"id": ACME, "display_name": "Acme Corp"}
    assert "etag" not in matter
    me = app.get("users/me").json()
    assert me["id"] == JANE


def test_datetime_filters_need_a_zone_and_match_strictly_after() -> None:
    app = make_app()
    assert app.get("calllogs", updated_since="2026-03-30T16:30:00").status_code == 400
    later = app.get("calllogs", updated_since="2026-03-30T16:30:00Z").json()
    assert [r["subject"] for r in later] == ["Call with Ann about lease"]
    assert app.get("timeentries", user_id=JANE.upper()).json()[0]["billed_by_user_ref"]["id"] == JANE
    assert app.get("timeentries", billed_by_user_id="nobody").json()  # unknown parameters are ignored


def test_unconfirmed_odata_is_refused() -> None:
    app = make_app()
    assert app.get("matters", **{"$select": "id"}).status_code == 400
    assert app.get("matters", **{"$filter": "status eq 'Open'"}).status_code == 501
    assert app.get("matters", **{"$orderby": "nope asc"}).status_code == 400


def test_path_casing_is_exact_for_the_api() -> None:
    app = make_app()
    assert app.get("Items").status_code == 200
    assert app.get("items").status_code == 404
    assert app.get("TimeEntries").status_code == 404


def test_post_validates_and_put_is_a_full_replace() -> None:
    app = make_app()
    missing = app.client.post(f"{API}/timeentries", json={"hours": 1}, headers=app.auth())
    assert missing.status_code == 400 and "value.matter_ref" in missing.json()["modelState"]
    body = {
        "date": "2026-04-01T00:00:00Z",
        "hours": 0.25,
        "description": "x",
        "matter_ref": {"id": HOURLY},
        "billed_by_user_ref": {"id": JANE},
    }
    created = app.client.post(f"{API}/timeentries", json=body, headers=app.auth()).json()
    assert created["account_ref"]["id"] == ACME and created["rate"] == 300 and created["is_billed"] is False
    replaced = app.client.put(
        f"{API}/timeentries",
        params={"id": created["id"]},
        json={
            "date": body["date"],
            "hours": 0.5,
            "matter_ref": body["matter_ref"],
            "billed_by_user_ref": body["billed_by_user_ref"],
        },
        headers=app.auth(),
    ).json()
    assert replaced["hours"] == 0.5 and replaced["description"] is None  # omitted fields are nulled
    assert app.client.put(f"{API}/timeentries/{created['id']}", json=body, headers=app.auth()).status_code == 405
    gone = app.client.delete(f"{API}/timeentries", params={"id": created["id"]}, headers=app.auth())
    assert gone.status_code == 204
    assert app.get(f"timeentries/{created['id']}").status_code == 404


def test_invoices_and_payments_are_read_only() -> None:
    app = make_app()
    assert app.client.post(f"{API}/invoices", json={}, headers=app.auth()).status_code == 405
    assert app.client.put(f"{API}/payments", params={"id": "x"}, json={}, headers=app.auth()).status_code == 405
    assert app.client.post(f"{API}/users", json={}, headers=app.auth()).status_code == 405


def test_tasks_default_to_not_completed() -> None:
    app = make_app()
    task = app.client.post(f"{API}/tasks", json={"subject": "s"}, headers=app.auth()).json()
    assert task["status"] == "NotCompleted"


def test_rate_limit_is_300_per_five_minutes_per_token() -> None:
    app = make_app()
    for _ in range(300):
        assert app.get("users/me").status_code == 200
    refused = app.get("users/me")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 300
    assert "X-RateLimit-Remaining" not in refused.headers  # UNCONFIRMED headers are not sent
    app.clock.advance(300)
    assert app.get("users/me").status_code == 200


def test_oauth_code_flow_and_rotating_refresh_tokens() -> None:
    app = make_app()
    sandbox = app.sandbox
    start = app.client.get(
        "/practicepanther/OAuth/Authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.client_id,
            "redirect_uri": "https://x.test/cb",
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert start.status_code == 302 and "state=s1" in start.headers["location"]
    code = start.headers["location"].split("code=")[1].split("&")[0]
    form = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    tokens = app.client.post(
        "/practicepanther/oauth/token",
        data={**form, "grant_type": "authorization_code", "code": code, "redirect_uri": "https://x.test/cb"},
    ).json()
    assert tokens["expires_in"] == 86_400 and tokens["scope"] == "full"
    fresh = app.client.post(
        "/practicepanther/oauth/token",
        data={**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    ).json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    spent = app.client.post(
        "/practicepanther/oauth/token",
        data={**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert spent.status_code == 400 and spent.json() == {"error": "invalid_grant"}
    old = app.client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert old.status_code == 401
    app.clock.advance(86_400)
    assert (
        app.client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == 401
    )


def test_faults_and_the_request_log() -> None:
    app = make_app()
    app.admin("POST", "faults", {"rules": [{"route": "/api/v2/timeentries*", "kind": "reset", "methods": ["POST"]}]})
    with pytest.raises(ConnectionDropped):
        app.client.post(f"{API}/timeentries", json={}, headers=app.auth())
    app.admin("POST", "faults", {"route": "/api/v2/matters", "kind": "500"})
    assert app.get("matters").status_code == 500
    log = app.admin("GET", "requests")
    assert [e["status"] for e in log] == [None, 500] and log[0]["fault"] == "reset"
    assert all(app.token["access_token"] not in str(e) for e in log)


def test_admin_acts_as_a_person() -> None:
    app = make_app()
    added = app.admin("POST", "tasks", {"subject": "From the UI", "status": "Completed"})
    app.clock.advance(60)
    changed = app.admin("PATCH", f"tasks/{added['id']}", {"subject": "Renamed"})
    assert changed["subject"] == "Renamed" and changed["updated_at"] > added["updated_at"]
    app.admin("DELETE", f"tasks/{added['id']}")
    assert all(t["id"] != added["id"] for t in app.admin("GET", "tasks"))
