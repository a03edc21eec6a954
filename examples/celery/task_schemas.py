"""Schemas shared by the application and its Celery tasks (pydantic models)."""

from __future__ import annotations

from pydantic import BaseModel


class MyTaskInput(BaseModel):
    """Input schema for my_task."""

    field1: str
    field2: int


class MyTaskOutput(BaseModel):
    """Output schema for my_task."""

    result: str
    token_consumption: dict[str, str | int | None] | None = None
