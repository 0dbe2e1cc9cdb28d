"""The configuration a firm on the local sandboxes runs with (`billsync sandbox --write-config`, the demo, tests).

Each vendor's sandbox says what a firm on it configures, as a fragment of `[firms.<id>]` (its
`billsync.sandbox_firm_settings` entry point): the PMS, an activity source, or the
payment gateway with the payments section. This module joins the fragments into one firm and
writes the file, with its own SQLite database and a generated secret key beside it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from cryptography.fernet import Fernet

from core.errors import ConfigError
from core.private_files import write_private
from core.tokens import fernet_from_key

SANDBOX_FIRM_NAME = "Sandbox Law LLP"
# LEDES files name the firm (LAW_FIRM_ID is usually its tax id; LEDES98BI adds the address). The
# sandbox firm has none of its own, so the written file carries a placeholder a real firm replaces.
PLACEHOLDER_IDENTITY = {
    "ledes_id": "12-3456789",
    "name": SANDBOX_FIRM_NAME,
    "address_1": "100 Congress Ave",
    "city": "Austin",
    "region": "TX",
    "postcode": "78701",
    "country": "US",
}
HEADER = """\
# A firm on billsync's local vendor sandboxes, written by `billsync sandbox --write-config`.
# The billing identity ([firms.<id>.billing.firm]) is a placeholder: a real firm writes its own.

"""


def join_vendor_settings(fragments: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One firm's settings from each vendor's fragment; a firm has one PMS.

    Fragments hold `pms`, `sources`, `connectors` and sections such as `payments`."""
    pms_vendors = [vendor for vendor, fragment in fragments.items() if "pms" in fragment]
    if len(pms_vendors) > 1:
        raise ConfigError(
            f"the sandboxes serve {len(pms_vendors)} PMSs ({', '.join(pms_vendors)}) and a firm has one: "
            "serve them separately to write a config"
        )
    joined: dict[str, Any] = {}
    for fragment in fragments.values():
        merge(joined, fragment)
    return joined


def write_firm_config(path: Path, firm: str, settings: Mapping[str, Any], *, extra: str = "") -> None:
    """Write a config for one firm, its SQLite file and secret key (made once) beside `path`, all 0600.

    `settings` is the firm's table without its name; `extra` is more TOML from the file's root
    (rules, capture settings), merged over what is written here."""
    document: dict[str, Any] = {
        "database_url": f"sqlite:///{path.with_suffix('.db').resolve()}",
        "secret_key_file": str(path.with_suffix(".key").resolve()),
        "firms": {firm: merge({"name": SANDBOX_FIRM_NAME, "capture": {"enabled": True}}, settings)},
    }
    merge(document, tomllib.loads(extra))
    ensure_key_file(path.with_suffix(".key"))
    # It holds the vendors' client secrets and the gateway's secret key: 0600, as the key file.
    write_private(path, HEADER + tomli_w.dumps(document))


def ensure_key_file(key_file: Path) -> None:
    """The secret key file beside a written config: made once (0600), and an existing one must hold a key.

    An existing file is never replaced: it may be a firm's own key, and the tokens encrypted
    with it would be lost. One that holds no key (any other text, bytes, a folder, unreadable)
    is refused in one line, before anything is written or served, instead of failing later.
    """
    if not key_file.exists() and not key_file.is_symlink():
        write_private(key_file, Fernet.generate_key().decode())
        return
    advice = (
        "it is kept (tokens encrypted with it would be lost): move it away for a new one, "
        "or write the config elsewhere"
    )
    try:
        fernet_from_key(key_file.read_bytes().strip())
    except OSError as exc:
        unreadable = f"exists but cannot be read ({exc.strerror})"
        raise ConfigError(f"the secret key file {key_file} {unreadable}; {advice}") from None
    except ConfigError:
        no_key = "holds no secret key (32 url-safe base64-encoded bytes)"
        raise ConfigError(f"the secret key file {key_file} exists and {no_key}; {advice}") from None


def merge(into: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `more` into `into` (and return it): tables key by key, lists joined without repeats, values replaced."""
    for key, value in more.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merge(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            current.extend(v for v in value if v not in current)
        elif isinstance(value, Mapping):
            into[key] = merge({}, value)  # a copy: later merges never change the caller's fragment
        elif isinstance(value, list):
            into[key] = list(value)
        else:
            into[key] = value
    return into
