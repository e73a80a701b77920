"""Log lines as readable text (the default) or, with LOG_FORMAT=json, one JSON object a line for
journald or a log shipper. Each record carries the update and the handler it was logged under
(`update_id`, `handler`; empty outside one): set by bot/ops.py around every handler."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

UPDATE_ID: ContextVar[int | None] = ContextVar("update_id", default=None)
HANDLER: ContextVar[str | None] = ContextVar("handler", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, update_id, handler (and the
    traceback as `exception` when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "update_id": getattr(record, "update_id", UPDATE_ID.get()),
            "handler": getattr(record, "handler", HANDLER.get()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(log_format: str) -> None:
    """Log INFO and above to stderr, as `text` or `json`."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if log_format == "json":  # a warning's lines too, as one object
        logging.captureWarnings(True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines would carry the token
