"""Alembic environment for Keel's schema.

Keel runs migrations itself (``keel.store.sql.open_database``) and hands Alembic an open connection
through ``config.attributes["connection"]``. The same file also serves the ``alembic`` command line
for writing new revisions: then the database URL comes from ``KEEL_DATABASE_URL`` or the ini file.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from keel.store.sql import normalise_url
from keel.store.tables import metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _command_line_url() -> str:
    url = os.environ.get("KEEL_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set KEEL_DATABASE_URL to the database the alembic command should use")
    return normalise_url(url).render_as_string(hide_password=False)


async def _run_from_command_line() -> None:
    engine = create_async_engine(_command_line_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(url=_command_line_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
if _connection is not None:
    _configure_and_run(_connection)
elif context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_from_command_line())
