"""Whether an outside service (PostgreSQL, NATS, Redis, S3) answers, as this process last found it.

Whatever calls the service reports here: `failed` after an error, `answered` after a success
(a background probe reports both, so an outage is noticed and its end seen even with no
traffic). An outage is logged twice, as a warning when it starts and one when it ends (how long
it lasted, and how many calls went without the service, by purpose), never once per failed
call and never with a traceback: during an outage, a line per request buries everything else.

A process may reach one service over several connections (a NATS connection per projector):
each reports under its own `source`, and the outage ends only once every source that failed
has answered again, so connections coming back one by one still log one end.

While a service is down, callers skip it (`worth_trying` is False) except for one try every
`RETRY_SECONDS`, so a service that comes back is used again without a restart even in a
process that has no background probe.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from infra.logging import get_logger

log = get_logger(__name__)

RETRY_SECONDS = 1.0


def describe(error: BaseException | str) -> str:
    """One short line for an error: its type and message, never a traceback."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text.strip()[:300] or "no answer"


class Availability:
    """One service's state in this process: up, or down since when and why."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.up = True
        self.detail = ""  # why it is down
        self._down_since = 0.0
        self._tried_at = 0.0
        self._failing: set[str] = set()  # sources whose last call failed
        self._without: Counter[str] = Counter()  # calls that went without it, by purpose

    def failed(self, error: BaseException | str, during: str, count: int = 1, *, source: str = "") -> None:
        """A call to the service failed (`during`: what the call was for; `count`: how many
        things went without it, when one call stood for several; `source`: the connection)."""
        self._without[during] += count
        self._failing.add(source)
        self._tried_at = time.monotonic()
        if self.up:
            self.up = False
            self.detail = describe(error)
            self._down_since = self._tried_at
            log.warning("dependency.down", service=self.service, during=during, error=self.detail)

    def skipped(self, during: str, count: int = 1) -> None:
        """A call was not even tried because the service is known to be down."""
        self._without[during] += count

    def worth_trying(self) -> bool:
        """Up, or down but not tried for `RETRY_SECONDS` (the caller then tries and reports)."""
        if self.up:
            return True
        now = time.monotonic()
        if now - self._tried_at < RETRY_SECONDS:
            return False
        self._tried_at = now
        return True

    def answered(self, *, source: str = "") -> None:
        """A call to the service (over `source`) succeeded."""
        if self.up:
            return
        self._failing.discard(source)
        if self._failing:
            return  # another connection is still without it
        seconds = round(time.monotonic() - self._down_since, 1)
        without = dict(self._without)
        self.up, self.detail = True, ""
        self._without.clear()
        log.warning("dependency.up", service=self.service, down_seconds=seconds, calls_without=without)


@dataclass
class Dependencies:
    """The availability of each service the system uses, shared by everything in one process."""

    postgres: Availability = field(default_factory=lambda: Availability("postgres"))
    nats: Availability = field(default_factory=lambda: Availability("nats"))
    redis: Availability = field(default_factory=lambda: Availability("redis"))
    s3: Availability = field(default_factory=lambda: Availability("s3"))
