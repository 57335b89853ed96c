"""Structured JSON logs on stdout, one line per event, shared by every service."""

from __future__ import annotations

import json
import logging
import random
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the client request being served, carried receiver → NSQ message → processor →
# gRPC metadata → recognizer, and stamped on every log line written on its behalf.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "x-request-id"


# A request id from outside (a header, a queue message) is kept only when it is short and plain:
# it goes into log lines and gRPC metadata, where a control character forges lines or fails calls.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def acceptable_request_id(offered: object) -> str | None:
    """`offered` if it is a plain request id (letters, digits, '.', '_', '-'; 1-64), else None."""
    if isinstance(offered, str) and _ACCEPTABLE_REQUEST_ID.fullmatch(offered):
        return offered
    return None


def new_request_id() -> str:
    # An id only has to be unique, not unguessable: this skips uuid4's system call per request.
    return f"{random.getrandbits(128):032x}"


# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the line.
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs and tornado's per-connection chatter would drown the events that matter.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    # Libraries' warnings (Pillow on a broken EXIF block, say) become JSON lines, not stray stderr.
    logging.captureWarnings(True)
