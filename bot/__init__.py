"""Telegram service desk of Dispendukcapil Kabupaten Blitar."""

import os

# PTB 22 warns on every 429 unless its time periods are timedelta objects (its next major
# behaviour); the bot reads them either way (bot.ratelimit.retry_after_seconds), so opt in.
os.environ.setdefault("PTB_TIMEDELTA", "1")
