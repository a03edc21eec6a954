"""What the orchestrator and the workers say to each other through Redis: keys, entries, fences.

Keys, under the configured prefix ``P``:

=============================  ===========================================================
``P:stream:{dispatch_id}``     the attempt's stream, worker → orchestrator: ``started``,
                               ``heartbeat``, ``progress``, ``log``, ``waiting``, ``done``
``P:control:{dispatch_id}``    orchestrator → worker: ``cancel`` and ``signal``
``P:claim:{dispatch_id}``      the worker running it (renewed by its heartbeat), then
                               ``done`` once it has published its outcome
``P:current:{task_id}``        the task's current dispatch id (an older attempt never runs)
``P:lost:{dispatch_id}``       the orchestrator gave the attempt up (lost, cancelled before
                               it started, stopped by force): it must not run
``P:deliveries:{dispatch_id}`` how many times its message was taken
``P:rate:{bucket}``            the next start a rate limit allows
``P:permits:{bucket}``         the holders of a concurrency limit's permits, scored by
                               when each expires unless renewed
=============================  ===========================================================

Every stream entry has two fields: ``type`` and ``data`` (JSON). Streams are read from a
stored position starting at ``0-0`` — never from ``$``, which would miss what was published
before the read began — and expire `CelerySettings.stream_ttl_seconds` after their last entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

STARTED, HEARTBEAT, PROGRESS, LOG, WAITING, DONE = (
    "started",
    "heartbeat",
    "progress",
    "log",
    "waiting",
    "done",
)
CANCEL, SIGNAL = "cancel", "signal"
STREAM_MAXLEN = 1000  # entries kept per attempt stream (approximately); the end is never cut
CLAIM_DONE = "done"
#: The Celery task every attempt runs as.
TASK_NAME = "taskflow.run"

#: The worker's claim, in one step: refused for an older attempt (``stale``), an attempt the
#: orchestrator gave up (``lost``) and one claimed by a worker that is alive or that finished
#: it (``busy``); otherwise ``claimed:N``, N being the number of deliveries so far, and the
#: ``started`` entry is on the attempt's stream.
CLAIM_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'lost' end
local n = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'type', 'started', 'data', ARGV[5])
  redis.call('EXPIRE', KEYS[5], ARGV[4])
  return 'claimed:' .. n
end
return 'busy'
"""

#: A heartbeat: renew the claim while it is still ours, and say so on the stream.
HEARTBEAT_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'heartbeat', 'data', '{}')
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

#: The end: publish the outcome, then mark the claim done (a duplicate delivery does nothing).
FINISH_SCRIPT = """
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'done', 'data', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], 'done', 'EX', ARGV[3])
return 1
"""

#: The orchestrator gives an attempt up so that it never runs: only while no worker holds it
#: (ARGV[2] == '1'), or whatever happens (ARGV[2] == '0'). Returns 1 if it is now given up.
GIVE_UP_SCRIPT = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return 1
"""


class Keys:
    """The Redis keys of one prefix."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def stream(self, dispatch_id: str) -> str:
        """The attempt's stream (worker → orchestrator)."""
        return f"{self.prefix}:stream:{dispatch_id}"

    def control(self, dispatch_id: str) -> str:
        """The attempt's control stream (orchestrator → worker)."""
        return f"{self.prefix}:control:{dispatch_id}"

    def claim(self, dispatch_id: str) -> str:
        """Who runs the attempt (``done`` once it has ended)."""
        return f"{self.prefix}:claim:{dispatch_id}"

    def current(self, task_id: str) -> str:
        """The task's current dispatch id."""
        return f"{self.prefix}:current:{task_id}"

    def lost(self, dispatch_id: str) -> str:
        """Set when the orchestrator gave the attempt up."""
        return f"{self.prefix}:lost:{dispatch_id}"

    def deliveries(self, dispatch_id: str) -> str:
        """How many times the attempt's message was delivered."""
        return f"{self.prefix}:deliveries:{dispatch_id}"

    def rate(self, name: str) -> str:
        """The shared state of one rate limit."""
        return f"{self.prefix}:rate:{name}"

    def permits(self, bucket: str) -> str:
        """The holders of one concurrency limit's permits (``bucket``: ``executor:ID``)."""
        return f"{self.prefix}:permits:{bucket}"


def encode(kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """A stream entry's fields (values that JSON cannot hold are written as their repr)."""
    return {"type": kind, "data": json.dumps(data, default=repr, separators=(",", ":"))}


def decode(fields: Mapping[Any, Any]) -> tuple[str, dict[str, Any]]:
    """A stream entry's type and data (an unreadable entry reads as an empty heartbeat)."""
    text = {_text(k): _text(v) for k, v in fields.items()}
    try:
        data = json.loads(text.get("data", "{}"))
    except ValueError:
        return HEARTBEAT, {}
    return text.get("type", HEARTBEAT), data if isinstance(data, dict) else {}


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
