"""Output lines gathered into few log events: by time, and by size.

A command that prints a million lines must not make a million events (each one is stored and
sent to every subscriber). Lines of one stream are held until `FLUSH_SECONDS` after the first
of them, or until they reach `MAX_BATCH_BYTES`, then logged as one event whose message is the
lines joined by newlines (and whose ``lines`` field counts them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

FLUSH_SECONDS = 0.25
MAX_BATCH_BYTES = 64 * 1024  # of text per event, the newlines between lines included

BatchSink = Callable[[str, str, int], None]  # (stream name, lines joined by "\n", line count)


class LogBatcher:
    """Collects lines per stream and hands them to ``sink`` in batches.

    Args:
        sink: Called with each batch (from the event loop's thread).
        flush_seconds: How long a line may wait for others.
        max_bytes: A batch is handed over as soon as it holds this much text.
    """

    def __init__(
        self,
        sink: BatchSink,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._sink = sink
        self._flush_seconds = flush_seconds
        self._max_bytes = max_bytes
        self._pending: dict[str, list[str]] = {}
        self._sizes: dict[str, int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, stream: str, line: str) -> None:
        """Take one line of ``stream``."""
        self._pending.setdefault(stream, []).append(line)
        self._sizes[stream] = self._sizes.get(stream, 0) + len(line) + 1
        if self._sizes[stream] >= self._max_bytes:
            self._flush_stream(stream)
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._flush_seconds, self.flush)

    def flush(self) -> None:
        """Hand over everything held now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for stream in list(self._pending):
            self._flush_stream(stream)

    def _flush_stream(self, stream: str) -> None:
        lines = self._pending.pop(stream, None)
        self._sizes.pop(stream, None)
        if lines:
            self._sink(stream, "\n".join(lines), len(lines))
