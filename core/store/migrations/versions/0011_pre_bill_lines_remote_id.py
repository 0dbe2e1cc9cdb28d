"""A pre-bill line's PMS entry id is stored as `remote_id`, the name it has everywhere else.

The column was `entry_ref`, a name left from before billsync called an entry's id in the PMS its
remote id (`TimeEntry.remote_id`, `PreBillLine.remote_id`). Renaming keeps every row's value.
SQLite renames through batch mode, which copies the table under the new column name; PostgreSQL
renames in place. The column stays nullable: lines that bill no entry have none.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "pre_bill_lines"
OLD_NAME = "entry_ref"
NEW_NAME = "remote_id"


def _rename(old: str, new: str) -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column(old, new_column_name=new, existing_type=sa.String(length=128), existing_nullable=True)


def upgrade() -> None:
    _rename(OLD_NAME, NEW_NAME)


def downgrade() -> None:
    _rename(NEW_NAME, OLD_NAME)
