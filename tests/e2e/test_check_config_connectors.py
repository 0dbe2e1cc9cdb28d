"""`billsync check-config` checks every connector section offline, one line per bad key.

IT staff run check-config before the first sync, without reaching any vendor: a wrong region, a
URL that is not one, a word where a number goes, a missing secret are each named by their key,
and the command fails, so a deployment script stops there. The command runs as a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RUN = [sys.executable, "-c", "from core.cli import main; main()"]
SECRET = "s3cret-client-value"

GOOD = f"""
[firms.acme]
name = "Acme Law"
pms = "clio"
sources = ["netdocuments", "microsoft365"]

[firms.acme.connectors.clio]
client_id = "app-1"
client_secret = "{SECRET}"
region = "eu"
base_url = "http://127.0.0.1:8765/clio"

[firms.acme.connectors.netdocuments]
client_id = "AP-1234"
client_secret = "{SECRET}"
repository_id = "CA-ACME1"

[firms.acme.connectors.microsoft365]
tenant_id = "acme.onmicrosoft.com"
client_id = "entra-app"
client_secret = "{SECRET}"
"""

# Five bad values, each in its key: a region Clio does not have, a base URL that is not an
# http(s) URL, a word for a number of minutes, a repository id NetDocuments never issues, and
# Microsoft Graph over plain http to another machine. Then a required secret left out (a sixth).
BAD = {
    'region = "eu"': 'region = "mars"',
    'base_url = "http://127.0.0.1:8765/clio"': 'base_url = "ftp://clio.example.com"\noverlap_minutes = "soon"',
    'repository_id = "CA-ACME1"': 'repository_id = "ACME1"',
    'client_id = "entra-app"': 'client_id = "entra-app"\ngraph_base_url = "http://graph.example.com/v1.0"',
}


def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "billsync.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "billsync.db"}"\n{text}', encoding="utf-8")
    config.chmod(0o600)
    return subprocess.run(
        [*RUN, "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith("error:")]


def test_good_connector_sections_pass(tmp_path: Path) -> None:
    done = check_config(tmp_path, GOOD)
    assert done.returncode == 0, done.stdout + done.stderr
    assert errors(done) == []


def test_five_bad_values_give_five_lines_naming_their_keys(tmp_path: Path) -> None:
    text = GOOD
    for good, bad in BAD.items():
        text = text.replace(good, bad)
    done = check_config(tmp_path, text)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert errors(done) == [
        "error: firms.acme.connectors.clio.region: Input should be 'us', 'eu', 'ca' or 'au'",
        "error: firms.acme.connectors.clio.base_url: must be an absolute http(s) URL with a host, "
        "e.g. https://api.example.com",
        "error: firms.acme.connectors.clio.overlap_minutes: Input should be a valid integer, "
        "unable to parse string as an integer",
        "error: firms.acme.connectors.microsoft365.graph_base_url: must be https (plain http only on loopback, "
        "for the sandbox)",
        "error: firms.acme.connectors.netdocuments.repository_id: String should match pattern '^CA-[A-Za-z0-9]+$'",
    ]
    assert SECRET not in done.stdout + done.stderr


def test_a_missing_secret_and_a_url_with_credentials_are_named_without_their_values(tmp_path: Path) -> None:
    text = GOOD.replace(f'client_id = "app-1"\nclient_secret = "{SECRET}"', 'client_id = "app-1"')
    text = text.replace('base_url = "http://127.0.0.1:8765/clio"', 'base_url = "https://user:pw@clio.example.com"')
    done = check_config(tmp_path, text)
    assert done.returncode == 2, done.stdout + done.stderr
    assert errors(done) == [
        "error: firms.acme.connectors.clio.client_secret: Field required",
        "error: firms.acme.connectors.clio.base_url: must not carry credentials, a query or a fragment",
    ]
    assert "pw@" not in done.stdout and SECRET not in done.stdout


def test_a_used_connector_without_a_section_is_named_but_capture_from_files_needs_none(tmp_path: Path) -> None:
    done = check_config(tmp_path, '[firms.acme]\nname = "Acme Law"\nsources = ["netdocuments"]\n')
    assert done.returncode == 0, done.stdout + done.stderr
    assert "firm acme: clio is the PMS but has no [firms.acme.connectors.clio] section" in done.stdout
    assert "firm acme: netdocuments is an activity source but has no [firms.acme.connectors.netdocuments]" in (
        done.stdout
    )


def test_the_old_key_system_of_record_still_works_with_one_warning_line(tmp_path: Path) -> None:
    done = check_config(tmp_path, GOOD.replace('pms = "clio"', 'system_of_record = "clio"'))
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stdout.splitlines() if "system_of_record" in line]
    renamed = "`system_of_record` is renamed `pms`; it is read as `pms` (write `pms` instead)"
    assert warnings == [f"warning: firm acme: {renamed}"]
    assert errors(done) == []


def test_both_keys_with_different_values_are_one_error_line(tmp_path: Path) -> None:
    done = check_config(tmp_path, GOOD.replace('pms = "clio"', 'pms = "clio"\nsystem_of_record = "practicepanther"'))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "system_of_record" in line]
    assert len(lines) == 1 and "error:" in lines[0] and "they differ: give `pms` only" in lines[0], lines


def test_each_connector_must_offer_the_role_the_firm_gives_it(tmp_path: Path) -> None:
    """NetDocuments named as the PMS and LawPay as a source: billsync could write no entry to the
    one and capture nothing from the other, so check-config says so, one line each, by key."""
    wrong = GOOD.replace('pms = "clio"', 'pms = "netdocuments"').replace(
        'sources = ["netdocuments", "microsoft365"]', 'sources = ["lawpay", "microsoft365"]'
    )
    done = check_config(tmp_path, wrong)
    assert done.returncode == 2, done.stdout + done.stderr
    pms_line, source_line = errors(done)
    # The lists name what is installed: at least these, whatever vendor is added later.
    pms_said, pms_installed = pms_line.split(" (PMS connectors installed: ")
    assert pms_said == "error: firms.acme.pms: netdocuments cannot be a PMS, it is an activity source"
    assert {"clio", "practicepanther"} <= set(pms_installed.rstrip(")").split(", "))
    assert "netdocuments" not in pms_installed and "lawpay" not in pms_installed
    source_said, sources_installed = source_line.split(" (activity source connectors installed: ")
    assert source_said == "error: firms.acme.sources: lawpay cannot be an activity source, it is a payment gateway"
    assert {"clio", "microsoft365", "netdocuments", "practicepanther"} <= set(sources_installed.rstrip(")").split(", "))
    assert "lawpay" not in sources_installed
    assert "increment" not in done.stdout  # no increment "of" a PMS that cannot be one
    assert "Traceback" not in done.stdout + done.stderr


def test_the_pms_named_again_as_a_source_is_refused_by_check_config_as_by_sync(tmp_path: Path) -> None:
    """`sync` refuses it (its activity would be read twice), so check-config must not pass it."""
    done = check_config(tmp_path, GOOD.replace('sources = ["netdocuments", "microsoft365"]', 'sources = ["clio"]'))
    assert done.returncode == 2, done.stdout + done.stderr
    assert errors(done) == ["error: firms.acme.sources: clio is the PMS; drop it from sources"]
    assert "clio rounds" in done.stdout or "increment" in done.stdout  # the PMS itself is fine: its increment is said
