"""`RetryPolicy`: whether a failed attempt runs again, and after how long. A plain value."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

from taskflow.models.attempt import NEVER_RETRIED


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with a cap and jitter.

    The delay before retry ``n`` (1 for the first) is ``backoff * factor ** (n - 1)`` seconds,
    capped at ``max_backoff``; with ``jitter`` it is drawn uniformly between half of that
    and all of it, so that many failing tasks do not retry in lockstep.

    Attributes:
        max_retries: How many times a failed task runs again (0: never).
        backoff: The first delay, in seconds.
        factor: How much each delay grows.
        max_backoff: The longest delay, in seconds.
        jitter: Randomise delays (see above).
        retry_on: Error types (exception class names, or ``"TaskTimeout"``) that are retried;
            empty means every error except those in `NEVER_RETRIED`.
    """

    max_retries: int = 0
    backoff: float = 1.0
    factor: float = 2.0
    max_backoff: float = 60.0
    jitter: bool = True
    retry_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff < 0 or self.factor < 1 or self.max_backoff < 0:
            raise ValueError(
                f"invalid retry policy {self!r}: counts and delays must be >= 0, factor >= 1"
            )

    @classmethod
    def parse(cls, value: Mapping[str, Any] | int | RetryPolicy | None) -> RetryPolicy | None:
        """From a definition: ``3`` (max retries), a mapping of the fields, or a policy."""
        if value is None or isinstance(value, RetryPolicy):
            return value
        if isinstance(value, bool) or not isinstance(value, int | Mapping):
            raise ValueError(f"retry must be a number of retries or a mapping, not {value!r}")
        if isinstance(value, int):
            return cls(max_retries=value)
        unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown retry setting(s): {', '.join(sorted(unknown))}")
        fields = dict(value)
        if "retry_on" in fields:
            fields["retry_on"] = tuple(fields["retry_on"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with a task."""
        data = dataclasses.asdict(self)
        data["retry_on"] = list(self.retry_on)
        return data

    def retries(self, error_type: str | None) -> bool:
        """Whether an error of this type is worth another attempt."""
        if error_type in NEVER_RETRIED:
            return False
        return not self.retry_on or error_type in self.retry_on

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 for the first)."""
        full = min(self.max_backoff, self.backoff * self.factor ** (retry_number - 1))
        if not self.jitter:
            return full
        return (rng or random).uniform(full / 2, full)
