"""Scheduled jobs (reminders, digests, the annual deactivation) live here; see issue 5."""
