"""Who a manager is: its host and process, so that a dead owner on this host is known at once.

An owner id reads ``HOST/PID/START/RANDOM``: the host name, the process id, the process's start
time (so that a recycled pid is not mistaken for the owner) and a random part (several
managers may live in one process). A tree whose lease is held by an owner on this host whose
process is gone can be taken over at once, instead of after its lease runs out.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from functools import cache


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (Linux), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or ``None``."""
    fields = _stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


@cache
def host_name() -> str:
    """This machine's host name (without ``/``)."""
    return socket.gethostname().replace("/", "_")[:100] or "localhost"


def new_owner_id() -> str:
    """A fresh owner id for a manager in this process."""
    pid = os.getpid()
    return f"{host_name()}/{pid}/{_start_ticks(pid) or 0}/{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    """An owner id, parsed."""

    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, owner: str) -> Owner | None:
        """The parts of an owner id, or ``None`` for one in another format."""
        parts = owner.split("/")
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def describe(self) -> str:
        """``process PID on HOST``."""
        return f"process {self.pid} on {self.host}"


def provably_dead(owner: str) -> bool:
    """Whether ``owner`` is a manager of this host whose process no longer runs.

    An owner on another host, or in another format, is never provably dead: its lease must
    run out first.
    """
    parsed = Owner.parse(owner)
    if parsed is None or parsed.host != host_name():
        return False
    if parsed.pid == os.getpid():
        return False  # ours: this process is alive (its managers decide themselves)
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    fields = _stat(parsed.pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X"):  # a zombie (killed, not reaped yet) runs nothing
        return True
    started = fields[19] if len(fields) > 19 else None
    return started is not None and parsed.start not in ("0", started)


def short_owner(owner: str | None) -> str:
    """``HOST:PID`` of an owner id (empty for nobody)."""
    if owner is None:
        return ""
    parsed = Owner.parse(owner)
    return f"{parsed.host}:{parsed.pid}" if parsed else owner


def describe_owner(owner: str | None) -> str:
    """A readable description of an owner id."""
    if owner is None:
        return "nobody"
    parsed = Owner.parse(owner)
    return f"{parsed.describe()} ({owner})" if parsed else owner
