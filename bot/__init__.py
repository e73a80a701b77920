"""Telegram service desk of Dispendukcapil Kabupaten Blitar."""
