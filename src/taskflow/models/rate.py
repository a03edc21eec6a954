"""`RateLimit`: at most so many starts per second, minute or hour (``"100/m"``)."""

from __future__ import annotations

import dataclasses
import math
import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_FORM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*$")


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` starts per ``per_seconds``, evenly spaced (one every `interval`).

    Attributes:
        count: How many starts.
        per_seconds: In how long.
    """

    count: float
    per_seconds: float

    @property
    def interval(self) -> float:
        """Seconds between two starts."""
        return self.per_seconds / self.count

    @classmethod
    def parse(cls, text: object) -> RateLimit:
        """``"100/m"``, ``"10/s"``, ``"1000/h"``, or a plain number (per second).

        Raises:
            ValueError: anything else, or a rate that is not positive.
        """
        if isinstance(text, int | float) and not isinstance(text, bool):
            text = str(text)
        match = _FORM.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"a rate limit is COUNT/UNIT with UNIT s, m or h (e.g. '100/m'), not {text!r}"
            )
        count = float(match.group(1))
        if not (math.isfinite(count) and count > 0):
            raise ValueError(f"a rate limit must allow at least some starts, not {text!r}")
        return cls(count, _UNITS[match.group(2) or "s"])

    def __str__(self) -> str:
        unit = next(u for u, seconds in _UNITS.items() if seconds == self.per_seconds)
        return f"{self.count:g}/{unit}"
