"""Where the broker, the result backend and the Redis of the progress streams are.

Each comes from the task's inputs, else from the environment, else from one default:

============================  ==============================  ============================
input                         environment variable            otherwise
============================  ==============================  ============================
``redis_url``                 ``TASKFLOW_REDIS_URL``          ``redis://127.0.0.1:6379/0``
``broker_url``                ``TASKFLOW_CELERY_BROKER_URL``  the Redis URL
``result_backend``            ``TASKFLOW_CELERY_RESULT_BACKEND``  the Redis URL
============================  ==============================  ============================

Inputs are stored with the task: put credentials in the environment, not in tree files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL_VARIABLE = "TASKFLOW_REDIS_URL"
BROKER_URL_VARIABLE = "TASKFLOW_CELERY_BROKER_URL"
RESULT_BACKEND_VARIABLE = "TASKFLOW_CELERY_RESULT_BACKEND"

_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


@dataclasses.dataclass(frozen=True, slots=True)
class CelerySettings:
    """The three URLs a ``celery.task`` run uses.

    Attributes:
        redis_url: The Redis that holds the progress streams (``redis://`` or ``rediss://``).
        broker_url: Celery's broker (``send_task`` and ``revoke`` go there).
        result_backend: Celery's result backend (read when a task publishes no stream).
    """

    redis_url: str
    broker_url: str
    result_backend: str

    @classmethod
    def resolve(
        cls, inputs: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> CelerySettings:
        """The URLs for a task with ``inputs``: its own, else the environment's, else defaults."""
        env = os.environ if environ is None else environ
        redis_url = inputs.get("redis_url") or env.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL
        return cls(
            redis_url=redis_url,
            broker_url=inputs.get("broker_url") or env.get(BROKER_URL_VARIABLE) or redis_url,
            result_backend=(
                inputs.get("result_backend") or env.get(RESULT_BACKEND_VARIABLE) or redis_url
            ),
        )


def redact(url: str) -> str:
    """``url`` without its password, for messages (``redis://user:***@host``)."""
    return _PASSWORD.sub(r"\1:***@", url)
