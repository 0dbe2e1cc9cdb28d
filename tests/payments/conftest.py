"""Payments tests run on the LawPay sandbox firm (the only gateway there is)."""

from __future__ import annotations

import pytest

from tests.connectors.lawpay.harness import LawPayEnv, make_env


@pytest.fixture
def env(tmp_path) -> LawPayEnv:
    made = make_env(tmp_path)
    yield made
    made.store.close()
