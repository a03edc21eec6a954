"""A child process in a process group of its own: start it, capture its output, kill the group.

The child is started with ``start_new_session=True``, so it leads a new process group (and
session) whose id is its pid. Everything it starts stays in that group unless it deliberately
leaves it, so ``os.killpg`` stops the command *and* whatever it spawned.

The child's exit is seen as it happens (`Child.exited`), not when its output pipes close:
a process it left in the background may hold them open (and ``Process.wait()`` waits for
the pipes too, since Python 3.12).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Mapping, Sequence

KILL_GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL when stopping a group
DRAIN_SECONDS = 1.0  # how long to wait for the output pipes to close once the group is dead
READ_CHUNK_BYTES = 64 * 1024
STREAM_LIMIT_BYTES = 64 * 1024  # asyncio's buffer for each pipe
LOG_LINE_CHARS = 2000  # longer lines are cut in the task log (the captured output is whole)

LineSink = Callable[[str, str], None]  # (stream name, line)


class StreamCapture:
    """Keeps the first ``limit`` bytes of one output stream and logs its complete lines.

    Bytes past the limit are read (so the child never blocks on a full pipe) and counted, but
    neither kept nor logged; one log line says that the stream was truncated.
    """

    def __init__(self, name: str, limit: int, encoding: str, log: LineSink | None) -> None:
        self.name = name
        self.limit = limit
        self.encoding = encoding
        self.total_bytes = 0
        self._kept = bytearray()
        self._partial = bytearray()
        self._log = log

    @property
    def truncated(self) -> bool:
        """Whether the stream produced more than ``limit`` bytes."""
        return self.total_bytes > self.limit

    def text(self) -> str:
        """The kept bytes, decoded (undecodable bytes are replaced)."""
        return self._kept.decode(self.encoding, errors="replace")

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk read from the stream."""
        was_truncated = self.truncated
        room = max(self.limit - len(self._kept), 0)
        kept = chunk[:room]
        self.total_bytes += len(chunk)
        self._kept += kept
        self._log_lines(kept)
        if self.truncated and not was_truncated:
            self.finish()
            self._emit(f"[{self.name} truncated: only its first {self.limit} bytes are kept]")

    def finish(self) -> None:
        """Log the last line if it had no newline."""
        if self._partial:
            self._emit(self._partial.decode(self.encoding, errors="replace"))
            self._partial.clear()

    def _log_lines(self, data: bytes) -> None:
        if self._log is None:
            return
        self._partial += data
        *lines, rest = self._partial.split(b"\n")
        for line in lines:
            self._emit(line.decode(self.encoding, errors="replace").rstrip("\r"))
        self._partial = bytearray(rest)
        if len(self._partial) > LOG_LINE_CHARS * 4:  # a very long line: log what we have
            self.finish()

    def _emit(self, line: str) -> None:
        if self._log is not None:
            self._log(self.name, line[:LOG_LINE_CHARS])

    async def read_from(self, stream: asyncio.StreamReader) -> None:
        """Read ``stream`` to its end."""
        while chunk := await stream.read(READ_CHUNK_BYTES):
            self.feed(chunk)
        self.finish()


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol for a child with pipes, which also says when the child exits."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclasses.dataclass(frozen=True, slots=True)
class Child:
    """A running command: the process, its transport, and the moment it exits."""

    process: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Event

    def close(self) -> None:
        """Stop reading its pipes (an escaped process may still hold them)."""
        self.transport.close()


async def spawn(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    with_stdin: bool,
) -> Child:
    """Start ``argv`` (no shell involved) as the leader of a new process group."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: _ExitProtocol(STREAM_LIMIT_BYTES, loop),
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if with_stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    return Child(asyncio.subprocess.Process(transport, protocol, loop), transport, protocol.exited)


def signal_group(child: Child, signum: int) -> None:
    """Send ``signum`` to every process of the child's group (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


async def stop_group(child: Child) -> None:
    """SIGTERM the group, give the child `KILL_GRACE_SECONDS` to exit, then SIGKILL the group.

    The final SIGKILL also ends members that outlived the child or ignore SIGTERM: when the
    command has exited by itself, what it left in its group is killed at once.
    """
    if not child.exited.is_set():
        signal_group(child, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.exited.wait(), KILL_GRACE_SECONDS)
    signal_group(child, signal.SIGKILL)
    await child.exited.wait()


async def feed_stdin(child: Child, data: bytes) -> None:
    """Write ``data`` to the child's stdin and close it (a child that stops reading is fine)."""
    process = child.process
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(data)
        await process.stdin.drain()
    process.stdin.close()


async def drain(readers: Sequence[asyncio.Task[None]]) -> None:
    """Wait for the output readers; stop them after `DRAIN_SECONDS` if a pipe stays open.

    A pipe stays open when a process that escaped the group (``setsid``) still holds it.
    """
    if not readers:
        return
    _, pending = await asyncio.wait(readers, timeout=DRAIN_SECONDS)
    for reader in pending:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def describe_exit(code: int) -> str:
    """``"exit code 3"`` or ``"signal SIGKILL"`` for an asyncio return code."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
