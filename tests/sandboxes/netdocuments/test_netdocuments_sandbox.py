"""The NetDocuments sandbox keeps to the reference: hosts, OAuth, the log's shape and limits, errors."""

from __future__ import annotations

import base64
import json

import pytest
from billsync_sandboxes.netdocuments.factory import build_sandbox, connector_settings
from billsync_sandboxes.netdocuments.seed import netdocuments_seed
from billsync_sandboxes.netdocuments.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REPOSITORY

from tests.connectors.netdocuments.harness import NetDocumentsEnv, make_env
from tests.connectors.netdocuments.seed import CANARY, MOTION

API = "/netdocuments/api.vault.netvoyage.com"


def basic(user: str, secret: str = DEFAULT_CLIENT_SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def service_token(env: NetDocumentsEnv, scope: str = "full", host: str = "api.vault.netvoyage.com") -> dict:
    answer = env.app.post(
        f"/netdocuments/{host}/v1/OAuth",
        content=f"grant_type=client_credentials&scope={scope}",
        headers={
            **basic(f"{DEFAULT_CLIENT_ID}|{DEFAULT_REPOSITORY}"),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return {"status": answer.status_code, **answer.json()}


def bearer(token: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_client_credentials_need_the_repository_in_the_basic_user() -> None:
    env = make_env()
    token = service_token(env)
    assert token["status"] == 200 and token["expires_in"] == "3600" and "refresh_token" not in token
    without_repo = env.app.post(
        f"{API}/v1/OAuth", content="grant_type=client_credentials&scope=full", headers=basic(DEFAULT_CLIENT_ID)
    )
    assert without_repo.status_code == 401


def test_hosts_are_regional_and_old_style_hosts_do_not_exist() -> None:
    env = make_env()
    assert service_token(env, host="api.eu.netdocuments.com")["status"] == 401
    assert service_token(env, host="api.eu.vault.netvoyage.com")["status"] == 404
    token = service_token(env)
    assert env.app.get("/netdocuments/api.au.netdocuments.com/v1/User/info", headers=bearer(token)).status_code == 401
    assert env.app.get(f"{API}/v1/User/info", headers=bearer(token)).status_code == 200


def test_the_log_is_a_json_array_behind_a_byte_order_mark() -> None:
    env = make_env()
    answer = env.app.get(
        f"{API}/v1/Repository/{DEFAULT_REPOSITORY}/log",
        params={"start": "2026-04-06", "Logtype": "consolidated", "format": "json"},
        headers=bearer(service_token(env)),
    )
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    entries = json.loads(answer.content.decode("utf-8-sig"))
    assert len(entries) == 13 and set(entries[0]["activity"]) >= {"date", "name", "user", "storageObject"}
    dates = [e["activity"]["date"] for e in entries]
    assert dates == sorted(dates)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "2026-04-06", "Logtype": "consolidated"}, 400),  # no format=json
        ({"start": "2026-04-06", "format": "json"}, 400),  # no Logtype
        ({"start": "06/04/2026", "Logtype": "consolidated", "format": "json"}, 400),
        ({"start": "2026-04-07", "end": "2026-04-06", "Logtype": "consolidated", "format": "json"}, 400),
    ],
)
def test_bad_log_requests_are_refused(params: dict, status: int) -> None:
    env = make_env()
    path = f"{API}/v1/Repository/{DEFAULT_REPOSITORY}/log"
    assert env.app.get(path, params=params, headers=bearer(service_token(env))).status_code == status


def test_the_log_needs_admin_rights_and_caps_its_rows() -> None:
    env = make_env(log_row_cap=4)
    path = f"{API}/v1/Repository/{DEFAULT_REPOSITORY}/log"
    params = {"start": "2026-04-06", "Logtype": "consolidated", "format": "json"}
    assert env.app.get(path, params=params, headers=bearer(service_token(env, "read"))).status_code == 403
    capped = env.app.get(path, params=params, headers=bearer(service_token(env, "read admin")))
    assert len(json.loads(capped.content.decode("utf-8-sig"))) == 4


def test_a_profile_never_carries_the_contents_but_a_download_does() -> None:
    env = make_env()
    headers = bearer(service_token(env))
    info = env.app.get(f"{API}/v1/Document/{MOTION}/info", headers=headers)
    assert CANARY not in info.text and info.json()["standardAttributes"]["name"] == "Motion to compel"
    assert CANARY in env.app.get(f"{API}/v1/Document/{MOTION}", headers=headers).text  # what billsync never asks


def test_the_rate_limit_answers_a_bare_429() -> None:
    env = make_env(rate_limit=1)
    headers = bearer(service_token(env))
    assert env.app.get(f"{API}/v1/User/info", headers=headers).status_code == 200
    refused = env.app.get(f"{API}/v1/User/info", headers=headers)
    assert refused.status_code == 429 and "retry-after" not in refused.headers  # UNCONFIRMED: sent bare


def test_a_person_acting_adds_to_the_log() -> None:
    env = make_env()
    before = len(env.admin("GET", "log"))
    entry = env.admin("POST", "act", {"user": "bob.roe@firm.example", "action": "Edit", "document": MOTION})
    assert entry["activity"]["user"]["id"] == "ND-BOB" and entry["activity"]["date"] == "2026-04-06T15:00:00"
    assert len(env.admin("GET", "log")) == before + 1


def test_the_factory_serves_the_demo_seed_and_settings_reach_it() -> None:
    from datetime import UTC, datetime

    from billsync_sandboxes.demo.data import generate_firm

    firm = generate_firm(timekeepers=3, clients=3, matters=5, activities=60)
    sandbox = build_sandbox(netdocuments_seed(firm, now=datetime(2026, 11, 1, tzinfo=UTC)), rate_limit_per_minute=50)
    assert sandbox.rate_limiter.limit == 100  # never below the sandbox's own figure
    settings = connector_settings("http://127.0.0.1:8700/")
    assert settings["base_url"] == "http://127.0.0.1:8700/netdocuments"
    assert settings["repository_id"] == sandbox.repository_id
