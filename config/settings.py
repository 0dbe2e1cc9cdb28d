"""billsync's configuration: a TOML file, with environment variables overriding it.

`BILLSYNC_DATABASE_URL` overrides `database_url`; nested keys use `__`, so
`BILLSYNC_FIRMS__ACME__CAPTURE__REVIEW=flagged` overrides `[firms.acme.capture] review`.
"""

from __future__ import annotations

import tomllib
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.billing import BillingSettings
from config.daemon import DaemonSettings
from config.payments import PaymentsSettings
from config.reports import ReportsSettings
from config.server import ServerSettings
from core.errors import ConfigError
from core.ingest_secret import secret_key
from core.policy import CapturePolicy, RuleSets

DEFAULT_DATABASE_URL = "sqlite:///billsync.db"

# A firm's keys that were renamed: the old name is still read, as the new one, with a warning.
RENAMED_FIRM_KEYS = {"system_of_record": "pms"}


class FirmSettings(BaseModel):
    """One firm: who it is, what it captures, which rules it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    capture: CapturePolicy = Field(default_factory=CapturePolicy)
    rules: RuleSets = Field(default_factory=RuleSets)
    billing: BillingSettings = Field(default_factory=BillingSettings)  # pre-bills, LEDES, PMS bills
    pms: str = "clio"  # the firm's practice-management system: the connector entries are written to
    # Further activity sources polled beside the PMS (e.g. "netdocuments", "microsoft365"),
    # an explicit list: each needs its own [firms.<id>.connectors.<name>] settings.
    sources: list[str] = Field(default_factory=list)
    # Standard Webhooks secret ("whsec_...") for the generic signed ingest endpoint; None: off.
    ingest_secret: SecretStr | None = None
    # Each connector's own settings, validated by that connector's Settings model when it is built.
    # Every text in them is held as a SecretStr until then (see `_sealed`); read them with connector_settings().
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    payments: PaymentsSettings | None = None  # [firms.<id>.payments]: LawPay collection, trust, plans
    reports: ReportsSettings = Field(default_factory=ReportsSettings)  # [firms.<id>.reports]: metrics, review pages
    # The renamed keys this firm's file or environment still spells the old way, for `renamed_key_warnings`.
    _old_keys: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _old_key_names(cls, data: Any, handler: ModelWrapValidatorHandler[FirmSettings]) -> FirmSettings:
        """Read a renamed key (`system_of_record`) as its new name (`pms`); both, disagreeing, is an error."""
        old_keys: list[str] = []
        if isinstance(data, Mapping) and any(old in data for old in RENAMED_FIRM_KEYS):
            data = dict(data)
            for old, new in RENAMED_FIRM_KEYS.items():
                if old not in data:
                    continue
                value = data.pop(old)
                if new in data and data[new] != value:
                    raise ValueError(f"`{old}` is the old name of `{new}` and they differ: give `{new}` only")
                data[new] = value
                old_keys.append(old)
        firm = handler(data)
        firm._old_keys = tuple(old_keys)
        return firm

    def renamed_keys(self) -> tuple[str, ...]:
        """The keys given under their old name (see RENAMED_FIRM_KEYS), in the order found."""
        return self._old_keys

    @field_validator("ingest_secret")
    @classmethod
    def _ingest_secret_is_a_key(cls, secret: SecretStr | None) -> SecretStr | None:
        # The daemon's endpoint reads the key with the same function: what passes here, `run` takes.
        if secret is not None:
            try:
                secret_key(secret.get_secret_value())
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return secret

    @field_validator("connectors")
    @classmethod
    def _connector_texts_are_secret(cls, connectors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {name: _sealed(section) for name, section in connectors.items()}

    def connector_settings(self, name: str) -> dict[str, Any] | None:
        """A connector's section as written (plain values), for its own Settings model; None when absent."""
        section = self.connectors.get(name)
        return None if section is None else _opened(section)


def _sealed(value: Any) -> Any:
    """Every text of a connector's section as a SecretStr, nested tables and lists included.

    Which keys are secret only the connector's Settings model knows (its secrets are SecretStr
    there); until that model takes the section, every text is held as one, so neither a repr of
    the settings nor a log of them shows a client secret, from the file or the environment.
    """
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, dict):
        return {key: _sealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_sealed(item) for item in value]
    return value


def _opened(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _opened(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_opened(item) for item in value]
    return value


class BillsyncSettings(BaseSettings):
    """The whole configuration: a database and one or more firms, isolated from each other."""

    model_config = SettingsConfigDict(env_prefix="BILLSYNC_", env_nested_delimiter="__", extra="forbid", frozen=True)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password: never in a repr
    # Encrypts OAuth tokens at rest: BILLSYNC_SECRET_KEY, or a file holding the key.
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)  # [daemon]: job intervals, claim leases
    server: ServerSettings = Field(default_factory=ServerSettings)  # [server]: routes, metrics listener, timeouts
    # Long work (a sync, a backfill, a long drain in the daemon) logs a `progress` line at most
    # this often off a terminal; on one, `sync --once` and `backfill` draw a bar instead.
    progress_every_seconds: float = Field(default=10.0, gt=0)
    firms: dict[str, FirmSettings] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file's values (passed in as init values)."""
        return env_settings, init_settings

    def encryption_key(self) -> str:
        """The Fernet key for tokens at rest, from the environment or the key file."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.secret_key_file is not None:
            try:
                return self.secret_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret_key_file {self.secret_key_file}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ConfigError(
                    f"secret_key_file {self.secret_key_file} is not text, so it holds no secret key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        raise ConfigError("no secret key: set BILLSYNC_SECRET_KEY or secret_key_file (tokens are stored encrypted)")

    def renamed_key_warnings(self) -> list[str]:
        """One line per firm still spelling a renamed key the old way: it works, but should be renamed."""
        lines = []
        for firm_id, firm in self.firms.items():
            for old in firm.renamed_keys():
                new = RENAMED_FIRM_KEYS[old]
                said = f"`{old}` is renamed `{new}`; it is read as `{new}` (write `{new}` instead)"
                lines.append(f"firm {firm_id}: {said}")
        return lines

    def firm(self, firm_id: str) -> FirmSettings:
        """One firm's settings, or a clear error naming the firms that exist."""
        try:
            return self.firms[firm_id]
        except KeyError:
            known = ", ".join(sorted(self.firms)) or "none"
            raise ConfigError(f"no firm {firm_id!r} in the configuration (firms: {known})") from None


def load_settings(path: Path | None) -> BillsyncSettings:
    """Read the TOML file (if any), apply environment overrides and validate everything."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return BillsyncSettings(**data)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        problems = tuple(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration{where}: {'; '.join(problems)}", problems) from None


def secret_keys_in(
    data: Mapping[str, Any], connector_model: Callable[[str], type[BaseModel] | None]
) -> list[str]:
    """The dotted keys of a configuration file's data that hold a secret (a SecretStr in the models).

    `connector_model` gives a connector's Settings model by name (None: unknown), for the
    `[firms.<id>.connectors.<name>]` sections, whose secrets only the connector declares.
    """
    found = _secret_keys(data, BillsyncSettings, "")
    for firm_id, firm in (data.get("firms") or {}).items():
        connectors = firm.get("connectors") if isinstance(firm, Mapping) else None
        for name, section in (connectors or {}).items():
            model = connector_model(name)
            if model is not None and isinstance(section, Mapping):
                found += _secret_keys(section, model, f"firms.{firm_id}.connectors.{name}.")
    return found


def _secret_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        types_ = _types_in(field.annotation)
        if SecretStr in types_:
            found.append(f"{prefix}{key}")
            continue
        for inner in types_:
            if isinstance(value, Mapping) and isinstance(inner, type) and issubclass(inner, BaseModel):
                found += _secret_keys(value, inner, f"{prefix}{key}.")
            elif isinstance(value, Mapping) and get_origin(inner) is dict:
                item = get_args(inner)[1]
                if isinstance(item, type) and issubclass(item, BaseModel):
                    for name, section in value.items():
                        if isinstance(section, Mapping):
                            found += _secret_keys(section, item, f"{prefix}{key}.{name}.")
    return found


def _types_in(annotation: Any) -> list[Any]:
    """`X | None` and `Optional[X]` as [X, NoneType]; anything else as itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]
