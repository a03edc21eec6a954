"""Rate limits as values, and the in-memory limiter's reservations."""

from __future__ import annotations

import itertools

import pytest

from taskflow.backends.rates import MemoryRateLimiter
from taskflow.models import RateLimit


@pytest.mark.parametrize(
    ("text", "interval"),
    [("100/m", 0.6), ("10/s", 0.1), ("3600/h", 1.0), ("4", 0.25), (2, 0.5), (" 30 / m ", 2.0)],
)
def test_rate_limits_as_celery_writes_them(text: object, interval: float) -> None:
    assert RateLimit.parse(text).interval == pytest.approx(interval)


@pytest.mark.parametrize("text", ["", "fast", "10/d", "0/m", "-1/s", None, True, "1e400/s"])
def test_malformed_rate_limits(text: object) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit.parse(text)


def test_the_text_form_parses_back() -> None:
    assert str(RateLimit.parse("100/m")) == "100/m"
    assert RateLimit.parse(str(RateLimit.parse("2.5/h"))) == RateLimit.parse("2.5/h")


async def test_reservations_are_evenly_spaced_per_bucket() -> None:
    limiter = MemoryRateLimiter()
    delays = [await limiter.reserve("a", 0.5) for _ in range(4)]
    assert delays[0] == 0
    assert [round(b - a, 2) for a, b in itertools.pairwise(delays)] == [0.5, 0.5, 0.5]
    assert await limiter.reserve("b", 0.5) == 0  # another bucket
