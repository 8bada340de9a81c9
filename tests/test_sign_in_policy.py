"""The sign-in throttling policy (resolvers/sign_in.py), apart from any transport."""

from __future__ import annotations

from resolvers.sign_in import sign_in_wait


class Buckets:
    """A limiter that refuses the keys it is told to, with the given waits, and records every take."""

    def __init__(self, refusals: dict[str, float]) -> None:
        self.refusals = refusals
        self.taken: list[tuple[str, float, int]] = []

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        self.taken.append((key, rate, burst))
        return self.refusals.get(key)


async def test_address_and_account_together_then_each_alone_with_looser_ceilings():
    buckets = Buckets({})
    assert await sign_in_wait(buckets, "10.0.0.1", " Ada@Example.com ", 6) is None
    assert buckets.taken == [
        ("sign-in:10.0.0.1:ada@example.com", 0.1, 6),
        ("sign-in-ip:10.0.0.1", 0.3, 18),
        ("sign-in-email:ada@example.com", 1.0, 60),
    ]


async def test_the_longest_wait_of_the_refusing_buckets_is_the_answer():
    buckets = Buckets({"sign-in-ip:10.0.0.1": 4.0, "sign-in-email:ada@example.com": 9.5})
    assert await sign_in_wait(buckets, "10.0.0.1", "ada@example.com", 10) == 9.5


async def test_without_a_limiter_nobody_waits():
    assert await sign_in_wait(None, "10.0.0.1", "ada@example.com", 10) is None
