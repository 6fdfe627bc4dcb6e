"""`DependencyWatch`: what the background workers say when a dependency (the database) goes
away and comes back.

A worker that polls every few seconds (the check-in dispatcher, the wellbeing records, the
reconciler) would otherwise log a traceback on every round of an outage, burying everything
else. Instead, one line when the first of them finds the dependency gone, and one when a round
succeeds again, with how long it was gone; errors that are not an outage are still logged in
full by the worker that met them. One watch is shared by every worker of the process, so an
outage is two lines however many workers notice it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from carecall.persistence.database import database_unreachable


class DependencyWatch:
    def __init__(
        self,
        name: str,
        is_outage: Callable[[BaseException], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._is_outage = is_outage
        self._clock = clock
        self._away_since: float | None = None

    @property
    def away(self) -> bool:
        return self._away_since is not None

    def failed(self, exc: BaseException, noticed_by: str) -> bool:
        """Whether ``exc`` says the dependency is away (logged once an outage); False for any
        other error, which the caller logs itself."""
        if not self._is_outage(exc):
            return False
        if self._away_since is None:
            self._away_since = self._clock()
            # The exception's type only: its message may hold a host or a password.
            logger.warning(
                f"The {self.name} is unreachable ({noticed_by}: {type(exc).__name__}); "
                "background work waits for it, and resumes by itself once it is back"
            )
        return True

    def answered(self) -> None:
        """A round that needed the dependency went through."""
        if self._away_since is None:
            return
        gone = self._clock() - self._away_since
        self._away_since = None
        logger.info(f"The {self.name} is back after {gone:.0f} s")


def database_watch() -> DependencyWatch:
    """A watch on the database: away while it can't be reached (`database_unreachable`)."""
    return DependencyWatch("database", database_unreachable)
