"""The package's log lines in dbt's own log: what a Python model reports (training progress with its
rate and ETA, the device chosen, a run reused) shows in the dbt console and in logs/dbt.log.

The package logs through the standard `logging` module and knows nothing of dbt; the dbt plugin
routes the `vectorfin` logger to dbt's event system once per dbt process.
"""

from __future__ import annotations

import logging

from dbt_common.events.base_types import EventLevel
from dbt_common.events.functions import fire_event
from dbt_common.events.types import Note

PACKAGE_LOGGER = "vectorfin"
_LEVELS = {
    logging.DEBUG: EventLevel.DEBUG,
    logging.INFO: EventLevel.INFO,
    logging.WARNING: EventLevel.WARN,
}


class DbtEventHandler(logging.Handler):
    """Fires each record as a dbt `Note` event at the record's level."""

    def emit(self, record: logging.LogRecord) -> None:
        level = _LEVELS.get(record.levelno, EventLevel.ERROR)
        try:
            fire_event(Note(msg=self.format(record)), level=level)
        except Exception:  # a log line must never fail a model
            self.handleError(record)


def route_package_logs_to_dbt() -> None:
    """Send the package's INFO and higher records to dbt's log (idempotent)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(handler, DbtEventHandler) for handler in logger.handlers):
        handler = DbtEventHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not twice, through a root handler some library may have installed
