"""The Celery backend: taskflow's attempts run on Celery workers, on other machines.

The orchestrating process (``TASKFLOW_BACKEND=celery taskflow worker``) keeps the tree and its
state in the database and sends each ready attempt to a Celery queue; workers
(``taskflow celery worker`` or ``celery -A taskflow.celery worker``) run it with the same
executors and report back over Redis streams (`taskflow.backends.celery.protocol`).

Celery and redis-py come with the ``celery`` extra (``pip install 'taskflow[celery]'``); they
are imported when a backend or a worker is made.
"""

from __future__ import annotations

from taskflow.backends.celery.backend import CeleryBackend
from taskflow.backends.celery.settings import CelerySettings

__all__ = ["CeleryBackend", "CelerySettings"]
