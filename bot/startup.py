"""The database as every command starts with it: opened, migrated, reference data loaded.

Apart from bot/app.py (which re-exports it) so that the maintenance commands do not import
the handlers, jobs, charts and PDF libraries they never use: a second or two of start-up on a
small machine, which `import-residents` of 1.3 M residents waits for too."""

from __future__ import annotations

from bot import db as dbmod
from bot.config import Settings
from bot.engine import Connection, migrate, open_database
from bot.storage.areas import sync_areas
from bot.storage.service_points import seed_contacts, seed_service_points


async def prepare_database(settings: Settings) -> Connection:
    """Open the database of the settings, apply migrations and load the reference data."""
    conn = await open_database(settings)
    try:
        await migrate(conn)
        async with dbmod.transaction(conn):
            await sync_areas(conn)
            await seed_service_points(conn)
            await seed_contacts(conn)
    except BaseException:
        await conn.close()  # its thread would keep the process alive (another SECRET_KEY)
        raise
    return conn
