"""When a failed job runs again: exponential backoff with jitter, then the dead-letter state.

Procrastinate's own `RetryStrategy` computes `exponential_wait ** (attempts + 1)` with no jitter,
so every job that failed together (Redis away for a minute, a receiver down) would come back
together. Here each retry waits between half and all of `base * 2**attempts` (capped), the
"equal jitter" of AWS's backoff analysis: the delays grow, and the herd spreads out. After the
last retry the job stays `failed` in Procrastinate's table, where `python -m gateway jobs failed`
lists it and `jobs retry ID` runs it again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job


@dataclass(frozen=True)
class Backoff(BaseRetryStrategy):
    retries: int  # runs after the first; then the job is failed for good (dead letter)
    base_seconds: float = 1.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Seconds before the next run of a job that has failed `attempts + 1` times."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**attempts)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if job.attempts >= self.retries:
            return None
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=self.delay(job.attempts)))
