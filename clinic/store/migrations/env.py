"""Alembic environment of the clinic database.

Normally run through :func:`clinic.store.db.migrate`, which passes an open connection (inside
its locked transaction) in ``config.attributes["connection"]``. Without one (e.g. the
``alembic`` command with ``-x url=...``) it connects to the configured database itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from clinic.store.db import database_url, external_engine
from clinic.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batches.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = context.get_x_argument(as_dictionary=True).get("url") or database_url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection given by clinic.store.db, or on a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    url = context.get_x_argument(as_dictionary=True).get("url") or database_url()
    # external_engine: SQLite connections run secure_delete, as every other one does.
    with external_engine(url).connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
