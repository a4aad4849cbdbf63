"""One way for the clients and pacers to say something in the run's log."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError


def say(message: str) -> None:
    """A warning in the run's log, from whichever task's thread (the Python log outside one)."""
    try:
        get_run_logger().warning(message)
    except MissingContextError:
        logging.getLogger("territory").warning(message)
