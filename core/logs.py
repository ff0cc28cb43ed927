"""Log lines for people and log processors: one record is one line, whatever a webhook put in a logged field."""

from __future__ import annotations

import logging
import re

# Line breaks (a forged log line), other controls and escapes (a restyled terminal), lone surrogates (a crash)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def escape(text: str) -> str:
    return _UNSAFE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class OneLineFormatter(logging.Formatter):
    """Escapes the message; a traceback (logged by our own code) keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)


def configure_logging(level: int = logging.INFO) -> None:
    """What the long-running commands log to stderr, uvicorn's lines included (serve_asgi sends them here)."""
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(OneLineFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
