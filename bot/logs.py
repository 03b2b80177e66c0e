"""Logging set-up for the daemon: human-readable console lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.ib_library import LIBRARIES


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Root logger to stderr; ib_insync's own chatter one level quieter."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # ib_insync logs every API error (e.g. 2104 farm notices) at INFO/ERROR; keep warnings.
    for library in LIBRARIES:  # ib_insync or ib_async: their loggers are named after them
        logging.getLogger(library).setLevel(max(logging.getLevelName(level), logging.WARNING))
