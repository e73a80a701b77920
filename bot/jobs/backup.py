"""The nightly backup: a checked copy of the database into BACKUP_DIR, old copies pruned."""

from __future__ import annotations

import logging

from bot.jobs.planning import JobRun
from bot.services.backup import nightly_backup

log = logging.getLogger(__name__)


async def run_backup(run: JobRun) -> int:
    """Back up for `run.day`; plans no message (0). A failure is recorded, then raised."""
    settings = run.settings
    report = await nightly_backup(
        run.db, settings.database_path, settings.backup_dir, day=run.day, now=run.now
    )
    log.info("backed up to %s: %d bytes, integrity ok", report.path, report.size_bytes)
    return 0
