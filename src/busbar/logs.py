"""Structured logs: one JSON object per line on stderr, quiet by default.

At ``info`` busbar logs its start, its stop, problems and every failed delivery
attempt (rationed per target, see busbar.observe.failures); every request is
logged at ``debug``.  Other libraries log at ``warning`` unless asked
(``--log-libraries``).  Fields passed with ``extra=`` become keys of the JSON object.
Secrets never reach a log: handlers log names and ids, never credentials.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"time", "level", "logger", "msg", ...extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "info", libraries: str = "warning") -> None:
    """Send busbar's logs at *level*, and other libraries' at *libraries*, to stderr as JSON
    lines: ``--log-level debug`` shows busbar's debug lines without aiohttp's, botocore's
    and asyncio's (``--log-libraries debug`` adds those)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = getattr(logging, level.upper(), logging.INFO)
    others = getattr(logging, libraries.upper(), logging.WARNING)
    root.setLevel(others)
    logging.getLogger("busbar").setLevel(numeric)
    # uvicorn repeats at info what busbar already says; keep it to warnings unless debugging it.
    uvicorn_level = others if others <= logging.DEBUG else logging.WARNING
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(uvicorn_level)
