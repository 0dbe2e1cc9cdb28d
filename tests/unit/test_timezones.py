"""Users' time zones as vendors name them: IANA, Rails (Clio's UI) or Windows; never a traceback.

A user's work date is the date the activity started in the user's zone. A Rails or Windows name
is the zone it stands for; a user without a zone (PracticePanther sends none), or with a name no
table knows, works in the firm's zone (`capture.time_zone`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from config.settings import load_settings
from connectors.clio import mapping as clio
from connectors.practicepanther import mapping as practicepanther
from core.engine import CaptureEngine
from core.errors import ConfigError
from core.policy import CapturePolicy
from core.rails_time_zones import RAILS_TIME_ZONES
from core.timezones import iana_name
from tests.capture import capture_engine
from tests.connectors.clio.test_clio_mapping import user as clio_user
from tests.connectors.practicepanther.seed import seed as practicepanther_seed
from tests.factories import T0, activity, client, matter


@pytest.mark.parametrize(
    ("name", "iana"),
    [
        ("America/New_York", "America/New_York"),
        ("Eastern Time (US & Canada)", "America/New_York"),  # Rails, as Clio's UI shows it
        ("Central Time (US & Canada)", "America/Chicago"),
        ("Pacific Time (US & Canada)", "America/Los_Angeles"),
        ("Arizona", "America/Phoenix"),
        ("London", "Europe/London"),
        ("Eastern Standard Time", "America/New_York"),  # Windows
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("GMT Standard Time", "Europe/London"),
        ("  Mountain Time (US & Canada) ", "America/Denver"),
        ("UTC", "UTC"),
    ],
)
def test_rails_and_windows_names_become_iana_names(name: str, iana: str) -> None:
    assert iana_name(name) == iana


@pytest.mark.parametrize(
    "name", ["Olympus Mons Time", "", "   ", "America", "../../etc/passwd", "/etc/localtime", "x" * 5000, "a\x00b"]
)
def test_a_name_no_table_knows_is_none_never_an_exception(name: str) -> None:
    assert iana_name(name) is None


def test_every_vendored_rails_zone_is_a_zone_this_machine_knows() -> None:
    assert len(RAILS_TIME_ZONES) == 154  # ActiveSupport's MAPPING, verbatim
    assert [name for name, zone in RAILS_TIME_ZONES.items() if iana_name(zone) != zone] == []


def test_clio_users_zones_are_mapped_at_the_edge() -> None:
    assert clio.timekeeper(clio_user(time_zone="Eastern Time (US & Canada)")).time_zone == "America/New_York"
    assert clio.timekeeper(clio_user(time_zone="Central Standard Time")).time_zone == "America/Chicago"
    assert clio.timekeeper(clio_user(time_zone="Olympus Mons Time")).time_zone == "Olympus Mons Time"  # kept
    assert clio.timekeeper(clio_user(time_zone=None)).time_zone is None
    assert clio.timekeeper({k: v for k, v in clio_user().items() if k != "time_zone"}).time_zone is None


def engine(store, firm_id, users, firm_zone: str) -> CaptureEngine:
    store.save_reference(firm_id, [*users, client(), matter()])
    return capture_engine(store, firm_id, time_zone=firm_zone)


def test_practicepanther_users_carry_no_zone_and_work_in_the_firms(store, firm_id) -> None:
    jane = practicepanther.timekeeper(practicepanther_seed()["users"][0])
    assert jane.time_zone is None  # PP's User has no time zone field
    late = T0.replace(hour=3, minute=30)  # 03:30 UTC on 5 October: 22:30 on the 4th in Chicago (UTC-5)
    engine(store, firm_id, [jane], "Central Time (US & Canada)").capture([activity(actor=jane.id, started_at=late)])
    [entry] = store.entries(firm_id)
    assert entry.work_date.isoformat() == "2026-10-04"


def test_a_clio_user_with_an_unknown_zone_works_in_the_firms_zone(store, firm_id) -> None:
    odd = clio.timekeeper(clio_user(time_zone="Olympus Mons Time"))
    late = T0.replace(hour=3, minute=30) + timedelta(days=1)  # 03:30 UTC on the 6th: the 5th in Chicago
    engine(store, firm_id, [odd], "America/Chicago").capture([activity(actor=odd.id, started_at=late)])
    [entry] = store.entries(firm_id)
    assert entry.work_date.isoformat() == "2026-10-05"


def test_the_firms_zone_is_checked_when_the_configuration_is_read(tmp_path: Path) -> None:
    assert CapturePolicy(time_zone="Eastern Standard Time").time_zone == "America/New_York"
    assert ZoneInfo(CapturePolicy().time_zone) == ZoneInfo("UTC")
    with pytest.raises(ValidationError, match="'Olympus Mons Time' is not a time zone name"):
        CapturePolicy(time_zone="Olympus Mons Time")
    config = tmp_path / "billsync.toml"
    config.write_text('[firms.acme]\nname = "Acme"\n[firms.acme.capture]\ntime_zone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"firms\.acme\.capture\.time_zone: .*'Mars/Olympus' is not a time zone"):
        load_settings(config)
