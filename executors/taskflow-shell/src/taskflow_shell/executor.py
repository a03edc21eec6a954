"""``shell.run``: run a command in its own process group, with limits on time and output."""

from __future__ import annotations

import asyncio
import codecs
import enum
import os
import shlex
import signal
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from taskflow import BaseTask, InputValidationError, TaskExecutionError
from taskflow.executors import SafetySetting, TrustProfile
from taskflow_shell.batching import LogBatcher
from taskflow_shell.environment import Redactor, child_environment
from taskflow_shell.process import (
    Child,
    StreamCapture,
    describe_exit,
    drain,
    feed_stdin,
    signal_group,
    spawn,
    stop_group,
)
from taskflow_shell.schema import INPUT_SCHEMA, OUTPUT_SCHEMA
from taskflow_shell.settings import ALLOW_VARIABLE, ShellSettings, current_settings

SHELL = "/bin/sh"
STDERR_IN_ERROR_CHARS = 500


class ShellError(TaskExecutionError):
    """Raised when a command cannot be started as given (bad inputs, missing program or cwd)."""


class _Ending(enum.Enum):
    EXITED = "exited"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


def command_argv(inputs: Mapping[str, Any]) -> list[str]:
    """What to run: ``argv`` as given, or ``/bin/sh -c COMMAND`` for a command with ``shell``.

    Raises:
        ShellError: neither or both of argv and command, or a shell setting that does not fit.
    """
    argv, command = inputs.get("argv"), inputs.get("command")
    if (argv is None) == (command is None):
        raise ShellError(
            "inputs: give argv (a list, run without a shell) or command (a string, with "
            "shell: true), not both or neither"
        )
    if command is None:
        if inputs["shell"]:
            raise ShellError("inputs.shell: shell: true runs command (a string), not argv")
        return list(argv)
    if not inputs["shell"]:
        raise ShellError(
            "inputs.command: a command string runs only with shell: true; without a shell, "
            f"give argv, e.g. {_suggested_argv(command)!r}"
        )
    return [SHELL, "-c", command]


def _suggested_argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes
        return command.split()


def _check_setup(inputs: Mapping[str, Any]) -> None:
    try:
        codecs.lookup(inputs["encoding"])
    except LookupError:
        raise ShellError(f"inputs.encoding: unknown encoding {inputs['encoding']!r}") from None
    cwd = inputs["cwd"]
    if cwd is not None and not os.path.isdir(cwd):
        raise ShellError(f"inputs.cwd: {cwd!r} is not a directory")


def check_allowed(inputs: Mapping[str, Any], settings: ShellSettings) -> str:
    """The program to run for these inputs, if the allowlist lets it run.

    Raises:
        InputValidationError: the program, or a variable of ``env``, is refused.
        ShellError: the inputs do not name a command (see `command_argv`).
    """
    argv = command_argv(inputs)
    program = settings.program(argv[0])
    field = "inputs.argv[0]" if inputs.get("argv") is not None else "inputs.shell"
    if program is None:
        allowed = ", ".join(settings.allow_programs or ()) or "nothing"
        raise InputValidationError(
            f"{field}: program {argv[0]!r} is not allowed by the shell.run allowlist "
            f"(${ALLOW_VARIABLE}: {allowed})",
            path=field,
            rule="allow_programs",
        )
    if settings.allow_programs is not None and inputs.get("pass_env"):
        raise InputValidationError(
            "inputs.pass_env: a shell.run allowlist is set, so a task cannot pass on the "
            "worker's variables (trees come from others: its secrets stay with it)",
            path="inputs.pass_env",
            rule="allow_programs",
        )
    variable = settings.refused_variable(inputs.get("env") or {})
    if variable is not None:
        raise InputValidationError(
            f"inputs.env.{variable}: a shell.run allowlist is set, so a task cannot set "
            f"{variable} (it would change which code the allowed program runs)",
            path=f"inputs.env.{variable}",
            rule="allow_programs",
        )
    return program


class ShellRun(BaseTask):
    """Runs a command (an argv list; a shell only when asked) and captures its output.

    The command leads a process group of its own: a timeout or a cancellation kills the group
    (SIGTERM, then SIGKILL), so nothing it started is left running; background processes it
    leaves in its group are killed when it exits, and the run ends with its exit status. It
    starts from a minimal environment (``PATH``, ``HOME``, ``LANG``, the worker's variables
    named in ``pass_env``, and the task's ``env``) unless ``inherit_env`` is set, and the
    values of secret-looking variables are redacted from what is kept of its output. Under
    the ``server`` trust profile only the programs an allowlist names may run (see
    `taskflow_shell.settings`). ``rerun_safe`` is false: a command may have side effects, so
    a run interrupted by a crash is not repeated on resume (subclass with
    ``rerun_safe = True`` for commands that are safe to repeat). Register the class, not an
    instance: an instance holds the state of the one run it is doing.
    """

    id = "shell.run"
    name = "Shell command"
    description = "Runs a command (argv, no shell unless asked) with time and output limits."
    input_schema: ClassVar[Mapping[str, Any]] = INPUT_SCHEMA
    output_schema: ClassVar[Mapping[str, Any] | None] = OUTPUT_SCHEMA
    rerun_safe = False
    max_concurrency = 8

    def __init__(self) -> None:
        self._stop = asyncio.Event()

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse a program (or an ``env`` variable) that the allowlist does not let run."""
        try:
            check_allowed(inputs, current_settings())
        except ShellError:
            return  # not a command yet: execute says what is wrong, naming the field

    def safety(self) -> Sequence[SafetySetting]:
        """The programs allowlist per trust profile, and the environment a command gets."""
        local = ShellSettings.from_environment(TrustProfile.LOCAL, environ={})
        server = ShellSettings.from_environment(TrustProfile.SERVER, environ={})
        current = current_settings()
        return [
            SafetySetting(
                name="allow_programs",
                description="programs shell.run may run, fnmatch on argv[0] or its path "
                "(null: any; []: none)",
                local=_listed(local.allow_programs),
                server=_listed(server.allow_programs),
                current=_listed(current.allow_programs),
                env=ALLOW_VARIABLE,
            ),
            SafetySetting(
                name="inherit_env",
                description="default of the inherit_env input (false: PATH, HOME, LANG and "
                "the task's env only; secret-looking values are redacted from output)",
                local=False,
                server=False,
                current=False,
            ),
        ]

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the command; fail on a timeout or an exit code that is not allowed."""
        argv = command_argv(inputs)
        program = check_allowed(inputs, current_settings())
        _check_setup(inputs)
        env = child_environment(
            inputs["env"], inherit=inputs["inherit_env"], passed=inputs["pass_env"]
        )
        redact = Redactor(env)
        batcher = self._batcher(redact) if inputs["log_output"] else None
        log = batcher.add if batcher is not None else None
        limit, encoding = inputs["max_output_bytes"], inputs["encoding"]
        captures = [StreamCapture(name, limit, encoding, log) for name in ("stdout", "stderr")]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            child = await spawn(
                [program, *argv[1:]],
                cwd=inputs["cwd"],
                env=env,
                with_stdin=inputs["stdin"] is not None,
            )
        except FileNotFoundError as exc:
            raise ShellError(f"inputs.argv[0]: program {argv[0]!r} not found") from exc
        except PermissionError as exc:
            raise ShellError(f"inputs.argv[0]: {argv[0]!r} is not executable") from exc
        try:
            ending, code = await self._supervise(child, captures, inputs)
        finally:
            if batcher is not None:
                batcher.flush()
        result = {
            "argv": argv,
            "exit_code": code,
            "stdout": redact(captures[0].text()),
            "stderr": redact(captures[1].text()),
            "stdout_truncated": captures[0].truncated,
            "stderr_truncated": captures[1].truncated,
            "duration_seconds": round(loop.time() - started, 3),
        }
        return _judge(result, ending, inputs)

    async def cancel(self) -> None:
        """Stop the command: its process group is killed, and the run ends with the output
        captured so far as its result."""
        self._stop.set()

    async def _supervise(
        self, child: Child, captures: list[StreamCapture], inputs: Mapping[str, Any]
    ) -> tuple[_Ending, int | None]:
        """Wait for the command to end (or be stopped); always leave its group dead."""
        process = child.process
        assert process.stdout is not None
        assert process.stderr is not None
        helpers = [
            asyncio.create_task(captures[0].read_from(process.stdout)),
            asyncio.create_task(captures[1].read_from(process.stderr)),
        ]
        if inputs["stdin"] is not None:
            stdin = inputs["stdin"].encode(inputs["encoding"], errors="replace")
            helpers.append(asyncio.create_task(feed_stdin(child, stdin)))
        try:
            ending = await self._wait(child, inputs["timeout"])
            await stop_group(child)
        except BaseException:
            signal_group(child, signal.SIGKILL)  # stopped by force: never leave it running
            raise
        finally:
            await drain(helpers)
            child.close()
        return ending, process.returncode

    async def _wait(self, child: Child, timeout: float) -> _Ending:
        waits = {asyncio.ensure_future(child.exited.wait()): _Ending.EXITED}
        for flag in (self._stop, self.context.cancel_requested):
            if flag is not None:
                waits[asyncio.ensure_future(flag.wait())] = _Ending.CANCELLED
        try:
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
        if not done:
            return _Ending.TIMED_OUT
        endings = {waits[finished] for finished in done}
        return _Ending.EXITED if _Ending.EXITED in endings else _Ending.CANCELLED

    def _batcher(self, redact: Redactor) -> LogBatcher:
        context = self.context

        def log_batch(stream: str, text: str, lines: int) -> None:
            context.log(redact(text), stream=stream, lines=lines)

        return LogBatcher(log_batch)


def _listed(patterns: tuple[str, ...] | None) -> list[str] | None:
    return None if patterns is None else list(patterns)


def _judge(result: dict[str, Any], ending: _Ending, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The task's result: the output, or a failure keeping the output for inspection."""
    shown = shlex.join(result["argv"])[:200]
    if ending is _Ending.TIMED_OUT:
        error = (
            f"command {shown} did not finish within {inputs['timeout']:g} s; "
            "its process group was killed"
        )
        return {**result, "status": "failed", "error": error, "error_type": "CommandTimeout"}
    code = result["exit_code"]
    if ending is _Ending.EXITED and code not in inputs["allowed_exit_codes"]:
        stderr = result["stderr"][-STDERR_IN_ERROR_CHARS:].strip()
        error = f"command {shown} ended with {describe_exit(code)}" + (
            f"; stderr: {stderr}" if stderr else ""
        )
        return {**result, "status": "failed", "error": error, "error_type": "CommandFailed"}
    return result
