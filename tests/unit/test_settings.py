"""Configuration: the TOML file, environment overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from core.errors import ConfigError
from core.models import ActivityKind, Severity
from core.policy import ReviewMode

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "billsync.toml"


def test_the_example_file_is_valid_and_means_what_its_comments_say() -> None:
    settings = load_settings(EXAMPLE)
    acme = settings.firm("acme")
    assert acme.capture.enabled and acme.capture.increment_minutes is None  # the PMS's own rounding
    assert acme.capture.review is ReviewMode.ALL
    assert acme.capture.kind(ActivityKind.SMS).minutes == 6
    assert not acme.capture.kind(ActivityKind.TASK).enabled
    assert acme.capture.kind(ActivityKind.NOTE).minutes == 15  # unset kinds keep the default
    assert acme.rules.clients["c-harbor"]["increment"].severity is Severity.BLOCK
    assert acme.rules.matters["m-smith-divorce"]["block_billing"].severity is Severity.OFF


def test_defaults_without_a_file() -> None:
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///billsync.db" and settings.firms == {}


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLSYNC_DATABASE_URL", "postgresql+psycopg://db/billsync")
    monkeypatch.setenv("BILLSYNC_FIRMS__ACME__CAPTURE__REVIEW", "flagged")
    settings = load_settings(EXAMPLE)
    assert settings.database_url == "postgresql+psycopg://db/billsync"
    assert settings.firm("acme").capture.review is ReviewMode.FLAGGED
    assert settings.firm("acme").capture.kind(ActivityKind.SMS).minutes == 6  # the rest of the file still applies


def test_an_increment_set_in_the_environment_wins_over_the_pms(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = load_settings(EXAMPLE).firm("acme").capture
    assert (capture.increment(15), capture.increment(None), capture.increment(0)) == (15, 6, 6)
    monkeypatch.setenv("BILLSYNC_FIRMS__ACME__CAPTURE__INCREMENT_MINUTES", "30")
    assert load_settings(EXAMPLE).firm("acme").capture.increment(15) == 30


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[firms.a]\nname = "A"\n[firms.a.capture]\nincrement_minute = 6\n',
            "firms.a.capture.increment_minute: Extra inputs",
        ),
        ('[firms.a]\nname = "A"\n[firms.a.capture]\nreview = "sometimes"\n', "firms.a.capture.review"),
        ('[firms.a]\nname = "A"\n[firms.a.capture.kinds.fax]\nminutes = 6\n', "firms.a.capture.kinds.fax"),
        ("[firms.a]\n", "firms.a.name: Field required"),
        ("this is = = not toml", "is not valid TOML"),
    ],
)
def test_mistakes_are_reported_with_where_and_why(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings(path)


def test_missing_file_and_unknown_firm_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"no firm 'x' in the configuration \(firms: acme\)"):
        load_settings(EXAMPLE).firm("x")


def test_no_secret_shows_in_a_repr_of_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connector sections are free-form until the connector takes them: every text in them is held
    as a SecretStr, whether it came from the file or the environment; the connector gets plain values."""
    config = tmp_path / "billsync.toml"
    config.write_text(
        'database_url = "postgresql+psycopg://billsync:db-password-canary@db/billsync"\n'
        "[firms.acme]\n"
        'name = "Acme"\n'
        "[firms.acme.connectors.clio]\n"
        'client_id = "app-1"\n'
        'client_secret = "file-secret-canary"\n'
        "[firms.acme.connectors.microsoft365]\n"
        'mailboxes = ["nested-canary@acme.example"]\n'
        "[firms.acme.reports]\n"
        'review_token = "review-token-canary-0123456789"\n'
    )
    monkeypatch.setenv("BILLSYNC_FIRMS__ACME__CONNECTORS__LAWPAY__SECRET_KEY", "env-secret-canary")
    monkeypatch.setenv("BILLSYNC_SECRET_KEY", "fernet-key-canary")
    settings = load_settings(config)
    shown = repr(settings) + str(settings) + repr(settings.firm("acme")) + repr(settings.firm("acme").connectors)
    canaries = ("db-password", "file-secret", "nested-canary", "review-token-canary", "env-secret", "fernet-key")
    assert [canary for canary in canaries if canary in shown] == []
    acme = settings.firm("acme")
    assert acme.connector_settings("clio") == {"client_id": "app-1", "client_secret": "file-secret-canary"}
    assert acme.connector_settings("lawpay") == {"secret_key": "env-secret-canary"}
    assert acme.connector_settings("microsoft365") == {"mailboxes": ["nested-canary@acme.example"]}
    assert acme.connector_settings("netdocuments") is None
    assert settings.database_url.endswith("db-password-canary@db/billsync")  # still usable as it was written


def test_the_old_key_system_of_record_is_read_as_pms_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "billsync.toml"
    path.write_text('[firms.acme]\nname = "Acme"\nsystem_of_record = "practicepanther"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.firm("acme").pms == "practicepanther"
    assert settings.renamed_key_warnings() == [
        "firm acme: `system_of_record` is renamed `pms`; it is read as `pms` (write `pms` instead)"
    ]


def test_the_old_key_from_the_environment_is_read_as_pms_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "billsync.toml"
    path.write_text('[firms.acme]\nname = "Acme"\n', encoding="utf-8")
    monkeypatch.setenv("BILLSYNC_FIRMS__ACME__SYSTEM_OF_RECORD", "practicepanther")
    settings = load_settings(path)
    assert settings.firm("acme").pms == "practicepanther"
    assert [line.split(";")[0] for line in settings.renamed_key_warnings()] == [
        "firm acme: `system_of_record` is renamed `pms`"
    ]


def test_pms_under_its_own_name_gives_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "billsync.toml"
    path.write_text('[firms.acme]\nname = "Acme"\npms = "practicepanther"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.firm("acme").pms == "practicepanther" and settings.renamed_key_warnings() == []


@pytest.mark.parametrize("old", ["clio", "practicepanther"])
def test_both_names_are_one_key(tmp_path: Path, old: str) -> None:
    """The same value twice is harmless; two different ones is one error naming both keys."""
    path = tmp_path / "billsync.toml"
    path.write_text(f'[firms.acme]\nname = "Acme"\nsystem_of_record = "{old}"\npms = "clio"\n', encoding="utf-8")
    if old == "clio":
        assert load_settings(path).firm("acme").pms == "clio"
        return
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.problems == (
        "firms.acme: Value error, `system_of_record` is the old name of `pms` and they differ: give `pms` only",
    )
