"""Logging set-up for the daemon: human-readable console lines or one JSON object per line, to
stderr and optionally to a rotated file.

In JSON, every line that has them carries the strategy id, the symbol and the orderRef: from the
record's ``extra``, else from ``log_context`` (the engine sets it around each strategy call, so
risk and executor lines written meanwhile get it), else parsed from an orderRef in the message
(``prefix:strategy:symbol:tag:seq``, bot/orders/records.py). Registered secrets (``redact``) are
replaced by ``***`` in every line, whatever logged them (an HTTP error quoting a URL with a
bot token, say).
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import re
import sys
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from bot.client.library import LIBRARIES

_CONTEXT: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "ibbot_log_context", default=(None, None)
)
# An orderRef as the executor writes it: prefix:strategy:symbol:tag:seq
_PART = r"([A-Za-z0-9_.-]+)"
_ORDER_REF = re.compile(rf"\b{_PART}:{_PART}:{_PART}:([^\s:]+):(\d+)\b")
_SECRETS: set[str] = set()
FIELDS = ("strategy_id", "symbol", "order_ref")


class log_context:  # lower case: used like a function, ``with log_context(sid, symbol):``
    """Tag the log lines written inside the block with a strategy id and a symbol."""

    __slots__ = ("_token", "_value")

    def __init__(self, strategy_id: str | None, symbol: str | None = None) -> None:
        self._value = (strategy_id, symbol)

    def __enter__(self) -> None:
        self._token = _CONTEXT.set(self._value)

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        _CONTEXT.reset(self._token)


def redact(secret: str | None) -> None:
    """Never write ``secret`` to a log again (tokens read from the environment)."""
    if secret:
        _SECRETS.add(secret)


def _scrub(text: str) -> str:
    for s in _SECRETS:
        if s in text:
            text = text.replace(s, "***")
    return text


def context_fields(record: logging.LogRecord, message: str) -> dict[str, str]:
    """strategy_id, symbol, order_ref of a record, where known (see module docstring)."""
    out = {k: str(v) for k in FIELDS if (v := getattr(record, k, None)) is not None}
    sid, symbol = _CONTEXT.get()
    if sid is not None:
        out.setdefault("strategy_id", sid)
    if symbol is not None:
        out.setdefault("symbol", symbol)
    if "order_ref" not in out and (m := _ORDER_REF.search(message)) is not None:
        out["order_ref"] = m.group(0)
        out.setdefault("strategy_id", m.group(2))
        out.setdefault("symbol", m.group(3))
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            **context_fields(record, message),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _scrub(json.dumps(out))


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return _scrub(super().format(record))


class RecentLines(logging.Handler):
    """The last ``n`` formatted lines, for the status page."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=n)
        self.setFormatter(ConsoleFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line must never break the caller
            self.handleError(record)


def setup_logging(
    level: str = "INFO",
    fmt: str = "console",
    *,
    file: Path | None = None,
    max_bytes: int = 10_000_000,
    backups: int = 5,
) -> None:
    """Root logger to stderr (and ``file``, rotated at ``max_bytes`` keeping ``backups``);
    ib_insync's own chatter one level quieter."""
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else ConsoleFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    for h in handlers:
        h.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    # ib_insync logs every API error (e.g. 2104 farm notices) at INFO/ERROR; keep warnings.
    for library in LIBRARIES:  # ib_insync or ib_async: their loggers are named after them
        logging.getLogger(library).setLevel(max(logging.getLevelName(level), logging.WARNING))
