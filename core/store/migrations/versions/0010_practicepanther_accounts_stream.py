"""PracticePanther's accounts stream keeps its vendor's name: its stored cursor moves from "contacts".

Core used to choose reference streams by name, so PracticePanther's accounts stream was called
"contacts" to be read as reference data. Streams now declare a role and keep their vendor's
names; a stream's cursor is stored under its name, so a firm's cursor moves with it and the next
poll resumes where the last one stopped instead of reading every account again.

A cursor stored under "accounts" before this one is stale (the stream briefly carried that name
when core took it for an activity stream): it is dropped first, so the cursor kept is always the
one the reference data was read with. Both dialects run the same two statements.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CONNECTOR = "practicepanther"
OLD_NAME = "contacts"
NEW_NAME = "accounts"


def _rename(old: str, new: str) -> None:
    drop = sa.text("DELETE FROM sync_cursors WHERE connector = :connector AND stream = :new")
    op.execute(drop.bindparams(connector=CONNECTOR, new=new))
    rename = sa.text("UPDATE sync_cursors SET stream = :new WHERE connector = :connector AND stream = :old")
    op.execute(rename.bindparams(connector=CONNECTOR, old=old, new=new))


def upgrade() -> None:
    _rename(OLD_NAME, NEW_NAME)


def downgrade() -> None:
    _rename(NEW_NAME, OLD_NAME)
