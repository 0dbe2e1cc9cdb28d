"""The daemon tests' shared fixture: every log line, as JSON, captured for the test to read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from core.logging import configure_logging
from tests.daemon.daemon_fakes import Logs


@pytest.fixture
def logs() -> Iterator[Logs]:
    """structlog configured as the daemon runs it (debug, JSON) into a buffer; reset afterwards."""
    captured = Logs()
    configure_logging(level="debug", stream=captured.out, json=True)
    yield captured
    structlog.reset_defaults()
