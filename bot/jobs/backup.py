"""The nightly backup: a checked copy of the database into BACKUP_DIR, old copies pruned."""

from __future__ import annotations

import logging

from bot.jobs.planning import JobRun
from bot.services import pg_backup
from bot.services.backup import nightly_backup

log = logging.getLogger(__name__)


async def run_backup(run: JobRun) -> int:
    """Back up for `run.day`; plans no message (0). A failure is recorded, then raised."""
    settings = run.settings
    if settings.database_url:  # pg_dump, into dukcapil-YYYY-MM-DD.dump
        report = await pg_backup.nightly_backup(
            run.db, settings.database_url, settings.backup_dir, day=run.day, now=run.now
        )
    else:
        report = await nightly_backup(
            run.db, settings.database_path, settings.backup_dir, day=run.day, now=run.now
        )
    log.info("backed up to %s: %d bytes, checked", report.path, report.size_bytes)
    return 0
