"""Logging: one line per record, per-component levels, and third-party chatter kept out of ``-v``.

Levels, from weakest to strongest:

1. the root logger at INFO; our own loggers (``autodialer.*``) at INFO, or DEBUG with ``-v``;
2. libraries that log every statement or packet (aiosqlite, SQLAlchemy, asyncio, httpx, multipart) pinned at
   ``QUIET`` levels whatever ``-v`` says: ``-v`` is for our decisions, not for SQL;
3. the AMI wire trace (``autodialer.ami.wire``) at DEBUG exactly when ``AUTODIALER_AMI_TRACE`` is on, with or
   without ``-v``; the FastAGI wire trace (``autodialer.agi.wire``) only when asked for by name in 4;
4. ``AUTODIALER_LOG_LEVELS`` (``logger=LEVEL`` pairs) over all of that, e.g.
   ``autodialer.services.dialer_engine=DEBUG,sqlalchemy.engine=INFO`` (the SQL statements, when wanted).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
QUIET: Mapping[str, str] = {
    "aiosqlite": "INFO",  # one DEBUG line per statement and per cursor operation
    "sqlalchemy": "WARNING",
    "asyncio": "INFO",
    "httpx": "WARNING",
    "httpcore": "WARNING",
    "multipart": "INFO",
    "python_multipart": "INFO",
}
WIRE_LOGGER = "autodialer.ami.wire"
AGI_WIRE_LOGGER = "autodialer.agi.wire"
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*|root)\s*=\s*([A-Za-z]+)\s*")


def parse_levels(text: str) -> dict[str, str]:
    """``"a.b=DEBUG, c=warning"`` → ``{"a.b": "DEBUG", "c": "WARNING"}``; ValueError names the bad part."""
    levels: dict[str, str] = {}
    for part in filter(str.strip, text.split(",")):
        match = _PAIR.fullmatch(part)
        if match is None:
            example = "autodialer.services.dialer_engine=DEBUG,sqlalchemy=WARNING"
            raise ValueError(f"{part.strip()!r} is not logger=LEVEL (e.g. {example})")
        name, level = match.group(1), match.group(2).upper()
        if level not in LEVELS:
            raise ValueError(f"{part.strip()!r}: the level must be one of {', '.join(LEVELS)}")
        levels[name] = level
    return levels


def configure(*, verbose: bool = False, wire_trace: bool = False, levels: Mapping[str, str] | None = None) -> None:
    """Set up the root handler (once) and every level described in the module docstring."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=FORMAT)
    root.setLevel(logging.INFO)
    logging.getLogger("autodialer").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger(WIRE_LOGGER).setLevel(logging.DEBUG if wire_trace else logging.INFO)
    logging.getLogger(AGI_WIRE_LOGGER).setLevel(logging.INFO)
    for name, level in (levels or {}).items():
        (root if name == "root" else logging.getLogger(name)).setLevel(level)
