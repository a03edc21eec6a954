"""`RunContext`: what every tree run of one manager shares; `Mode`: what a run is for."""

from __future__ import annotations

import dataclasses
import enum

from taskflow.backends import ExecutionBackend
from taskflow.engine.hooks import Hooks
from taskflow.engine.settings import EngineSettings
from taskflow.engine.slots import Slots
from taskflow.events import EventBus
from taskflow.executors import ExecutorRegistry
from taskflow.storage import Storage


@dataclasses.dataclass(frozen=True, slots=True)
class RunContext:
    """The parts a manager hands each of its tree runs."""

    storage: Storage
    registry: ExecutorRegistry
    backend: ExecutionBackend
    settings: EngineSettings
    slots: Slots
    bus: EventBus
    hooks: Hooks


class Mode(enum.Enum):
    """What a run is for: running the tree, or only applying requests to a tree nobody runs
    (a cancel) and letting it go again."""

    RUN = "run"
    SETTLE = "settle"
