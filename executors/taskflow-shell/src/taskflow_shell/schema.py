"""The input and output schemas of ``shell.run`` (JSON Schema, Draft 2020-12)."""

from __future__ import annotations

from typing import Any

DEFAULT_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 86_400
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024  # per stream
MAX_OUTPUT_BYTES = 64 * 1024 * 1024

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "argv": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": (
                "The program and its arguments, run without a shell: each element reaches the "
                "program as one argument, verbatim. Give argv, or command with shell: true."
            ),
        },
        "command": {
            "type": "string",
            "minLength": 1,
            "description": (
                "A command line for /bin/sh -c; only with shell: true, and only for trusted "
                "text (the shell interprets ;, |, $(...) and the like)."
            ),
        },
        "shell": {
            "type": "boolean",
            "default": False,
            "description": "Run command through /bin/sh -c (it must be set to use command).",
        },
        "cwd": {
            "type": ["string", "null"],
            "default": None,
            "description": "Working directory (default: the worker's own).",
        },
        "env": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "default": {},
            "description": (
                "Environment variables to set for the command. Values of variables whose "
                "names look secret (TOKEN, SECRET, PASSWORD, KEY...) are redacted from the "
                "output kept and logged."
            ),
        },
        "pass_env": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "default": [],
            "description": (
                "Names of the worker's environment variables to pass on (those that are set), "
                "e.g. a token the command needs: its value is not in the tree, nor stored."
            ),
        },
        "inherit_env": {
            "type": "boolean",
            "default": False,
            "description": (
                "Start from the worker's whole environment (false: only PATH, HOME and LANG "
                "from it, plus pass_env and env)."
            ),
        },
        "stdin": {
            "type": ["string", "null"],
            "default": None,
            "description": "Text written to the command's standard input (default: none).",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_TIMEOUT_SECONDS,
            "default": DEFAULT_TIMEOUT_SECONDS,
            "description": (
                "Seconds the command may run; then its whole process group is killed and the "
                "task fails with CommandTimeout."
            ),
        },
        "allowed_exit_codes": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 1,
            "default": [0],
            "description": "Exit codes that count as success; any other fails the task.",
        },
        "max_output_bytes": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_OUTPUT_BYTES,
            "default": DEFAULT_MAX_OUTPUT_BYTES,
            "description": (
                "Bytes of stdout, and of stderr, kept in the result and logged; the rest is "
                "read and dropped (see stdout_truncated)."
            ),
        },
        "log_output": {
            "type": "boolean",
            "default": True,
            "description": (
                "Stream the output to the task log as it comes, in batches of lines (one log "
                "event per stream every 0.25 s at most, or per 64 KiB)."
            ),
        },
        "encoding": {
            "type": "string",
            "default": "utf-8",
            "description": "Encoding of stdin and of the output (undecodable bytes are replaced).",
        },
    },
    "additionalProperties": False,
    "examples": [
        {"argv": ["echo", "hello"]},
        {
            "argv": ["python3", "-c", "import sys; print(sys.stdin.read().upper())"],
            "stdin": "hi",
        },
        {"command": "ls | wc -l", "shell": True, "cwd": "/"},
    ],
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "argv": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "What was run (/bin/sh -c COMMAND for a command with shell: true).",
        },
        "exit_code": {
            "type": ["integer", "null"],
            "description": "The exit code; negative: killed by that signal; null: never ended.",
        },
        "stdout": {"type": "string", "description": "Standard output (up to max_output_bytes)."},
        "stderr": {"type": "string", "description": "Standard error (up to max_output_bytes)."},
        "stdout_truncated": {
            "type": "boolean",
            "description": "Whether stdout was longer than max_output_bytes.",
        },
        "stderr_truncated": {
            "type": "boolean",
            "description": "Whether stderr was longer than max_output_bytes.",
        },
        "duration_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "How long the command ran.",
        },
    },
    "required": [
        "argv",
        "exit_code",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "duration_seconds",
    ],
    "additionalProperties": False,
}
