"""The input and output schemas of ``http.request`` (JSON Schema, Draft 2020-12)."""

from __future__ import annotations

from typing import Any

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024 * 1024
DEFAULT_RETRY_STATUSES = [429, 502, 503, 504]

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "method": {
            "enum": list(METHODS),
            "default": "GET",
            "description": "The HTTP method.",
        },
        "url": {
            "type": "string",
            "pattern": "^https?://",
            "description": "The http:// or https:// URL to request (no other scheme).",
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "default": {},
            "description": "Request headers.",
        },
        "query": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number"]},
            "default": {},
            "description": "Query parameters, added to those already in the URL.",
        },
        "json": {
            "description": (
                "A JSON body (any JSON value; sent with Content-Type: application/json). "
                "Give json or body, not both."
            ),
        },
        "body": {
            "type": "string",
            "description": "A raw text body (UTF-8; set the Content-Type header to describe it).",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 3600,
            "default": DEFAULT_TIMEOUT_SECONDS,
            "description": "Seconds one attempt may take, from connecting to the end of the body.",
        },
        "retries": {
            "type": "integer",
            "minimum": 0,
            "maximum": 10,
            "default": 0,
            "description": (
                "How many times to try again after a connection error or a status listed in "
                "retry_on_status. Off by default: a repeated POST may act twice."
            ),
        },
        "retry_on_status": {
            "type": "array",
            "items": {"type": "integer", "minimum": 100, "maximum": 599},
            "default": DEFAULT_RETRY_STATUSES,
            "description": "Response statuses that are tried again (while retries remain).",
        },
        "retry_backoff": {
            "type": "number",
            "minimum": 0,
            "maximum": 60,
            "default": 0.2,
            "description": "Seconds before the first retry; doubled for each further one.",
        },
        "follow_redirects": {
            "type": "boolean",
            "default": True,
            "description": "Follow redirects (to http and https URLs only).",
        },
        "max_redirects": {
            "type": "integer",
            "minimum": 0,
            "maximum": 50,
            "default": 10,
            "description": "Fail with HttpRequestError after this many redirects.",
        },
        "response_type": {
            "enum": ["auto", "json", "text"],
            "default": "auto",
            "description": (
                "How to return the body: json (parsed), text, or auto (json when the response "
                "says it is JSON, text otherwise)."
            ),
        },
        "max_response_bytes": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_RESPONSE_BYTES,
            "default": DEFAULT_MAX_RESPONSE_BYTES,
            "description": (
                "Largest body accepted; reading stops past it and the task fails with "
                "ResponseTooLarge."
            ),
        },
        "raise_for_status": {
            "type": "boolean",
            "default": True,
            "description": "Fail with HttpStatusError when the final status is 400 or more.",
        },
    },
    "required": ["url"],
    "additionalProperties": False,
    "examples": [
        {"url": "https://api.example.org/items", "query": {"page": 2}},
        {
            "method": "POST",
            "url": "https://api.example.org/items",
            "json": {"name": "widget"},
            "headers": {"Authorization": "Bearer TOKEN"},
        },
        {"url": "https://example.org/", "response_type": "text", "retries": 3},
    ],
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "status_code": {
            "type": "integer",
            "minimum": 100,
            "maximum": 599,
            "description": "The final response's status.",
        },
        "reason": {"type": "string", "description": "Its reason phrase, e.g. 'Not Found'."},
        "url": {"type": "string", "description": "The final URL, after redirects."},
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Response headers (repeated ones joined with ', ').",
        },
        "json": {"description": "The parsed body, when it was returned as JSON."},
        "text": {"type": "string", "description": "The body, when it was returned as text."},
        "size_bytes": {"type": "integer", "minimum": 0, "description": "Size of the body read."},
        "redirects": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The URLs that redirected, in order.",
        },
        "attempts": {
            "type": "integer",
            "minimum": 1,
            "description": "How many attempts were made.",
        },
        "elapsed_seconds": {"type": "number", "description": "Time taken, retries included."},
    },
    "required": [
        "status_code",
        "reason",
        "url",
        "headers",
        "size_bytes",
        "redirects",
        "attempts",
        "elapsed_seconds",
    ],
    "additionalProperties": False,
    # the body comes back as one of the two, as response_type asks
    "oneOf": [{"required": ["json"]}, {"required": ["text"]}],
}
