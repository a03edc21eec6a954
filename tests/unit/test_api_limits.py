"""Token buckets and stream counts, with an injectable clock."""

from __future__ import annotations

import pytest

from taskflow.api.limits import RateLimits, TokenBucket
from taskflow.api.problems import Problem
from taskflow.api.settings import ApiSettings


def test_a_bucket_gives_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # a token every half second
    assert bucket.take(0.5) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at burst


def test_limits_are_per_key_and_kind_with_retry_after() -> None:
    now = [0.0]
    limits = RateLimits(ApiSettings(read_rate=1.0, read_burst=2, write_rate=0.25, write_burst=1),
                        clock=lambda: now[0])  # fmt: skip
    limits.check("k1", "read")
    limits.check("k1", "read")
    with pytest.raises(Problem) as refused:
        limits.check("k1", "read")
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "1"
    limits.check("k2", "read")  # another key has its own bucket
    limits.check("k1", "write")
    with pytest.raises(Problem) as refused:
        limits.check("k1", "write")
    assert refused.value.headers["Retry-After"] == "4"
    now[0] = 4.0
    limits.check("k1", "write")


def test_streams_are_counted_per_key() -> None:
    limits = RateLimits(ApiSettings(max_streams=2))
    limits.open_stream("k")
    limits.open_stream("k")
    with pytest.raises(Problem):
        limits.open_stream("k")
    limits.close_stream("k")
    limits.open_stream("k")
    limits.open_stream("other")


def test_settings_refuse_nonsense() -> None:
    from taskflow import ConfigurationError

    with pytest.raises(ConfigurationError):
        ApiSettings(read_rate=0)
    with pytest.raises(ConfigurationError):
        ApiSettings(max_tasks=0)
