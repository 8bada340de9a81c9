"""Every wait on Redis bounded: clients with short timeouts, and one circuit breaker per process.

A Redis that hangs (paused, overloaded, a network that drops packets) answers nothing and
refuses nothing, so without bounds every request that touches it waits as long as the client
lets it. Two bounds, for every Redis client the gateway makes (`redis_client`):

- connect and socket timeouts (`REDIS_TIMEOUT_MS`), and no retry after a timeout: one retry on a
  fresh connection only after a connection error, which is what pooled connections raise once
  Redis has restarted;
- the `Breaker` every Redis call goes through (`with breaker: await redis...`). After a failure it
  opens for `interval` seconds (`REDIS_BREAKER_SECONDS`): calls then raise `RedisUnavailable`
  at once, without touching Redis, and each caller takes its degraded path (the rate limiter
  limits per process, the response cache is bypassed, the event bus delivers in this process
  only, persisted documents come from this process's store). Once the interval is over, one call
  is let through as a trial: an answer closes the breaker, a failure opens it for another
  interval. A hung Redis therefore costs one timeout per interval, not one per request.

Only a connection error or a timeout counts as a failure: an error Redis answers with proves it
is there. A cancelled call counts as nothing (clients hang up all the time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("gateway.redis")
DEFAULT_INTERVAL = 2.0
_FAILURES = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisUnavailable(RedisConnectionError):
    """Raised instead of calling Redis while the breaker is open.

    A `ConnectionError`, so every caller's existing handling of an unreachable Redis applies.
    """


class Breaker:
    """A circuit breaker shared by every Redis user of a process. Use as `with breaker: ...`."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.closed = True  # a plain attribute: the response cache reads it on every request
        self.retry_at = 0.0  # while open: when the next trial call may go
        self.failures = 0  # calls that reached Redis (or tried to) and failed
        self.refused = 0  # calls refused without touching Redis
        self.trips = 0  # times it opened

    def __enter__(self) -> None:
        if self.closed:
            return
        now = self.clock()
        if now < self.retry_at:
            self.refused += 1
            raise RedisUnavailable(f"Redis failed less than {self.interval:g} s ago; not retried before then")
        # This call is the trial; the others are refused until it ends or another interval passes
        # (a trial that is cancelled must not keep the breaker open for good).
        self.retry_at = now + self.interval

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is None or (isinstance(error, RedisError) and not isinstance(error, _FAILURES)):
            self.succeeded()
        elif isinstance(error, _FAILURES) and not isinstance(error, RedisUnavailable):
            self.failed(error)

    def succeeded(self) -> None:
        if not self.closed:
            self.closed = True
            log.warning("Redis answers again: circuit breaker closed")

    def failed(self, error: BaseException) -> None:
        """Open (again) for an interval; also for failures seen outside a `with` block."""
        self.failures += 1
        self.retry_at = self.clock() + self.interval
        if self.closed:
            self.closed = False
            self.trips += 1
            log.error(
                "Redis failed (%s: %s): circuit breaker open; calls skip Redis for %g s between trials",
                type(error).__name__,
                error,
                self.interval,
            )


def redis_client(url: str, timeout: float, reconnect: bool = True) -> Redis:
    """A Redis client whose connects and replies each wait at most `timeout` seconds.

    `reconnect=False` for the event bus's pub/sub listener: redis-py would otherwise re-make a
    lost subscription silently, and the listener would never learn that messages were missed.
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1 if reconnect else 0, supported_errors=(RedisConnectionError,)),
    )
