"""Pydantic models as executor schemas (taskflow.executors.models, issue 12)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field, field_validator

from taskflow import (
    BaseTask,
    DefinitionError,
    ExecutableTask,
    ExecutorRegistry,
    RegistryError,
    TaskCtl,
    TaskManager,
    TaskStatus,
    create_session,
)
from taskflow.executors import ExecutionContext, invoke, registered
from taskflow.testing import check_executor, run_executor


class Line(BaseModel):
    """One line of an order."""

    sku: str = Field(description="The article.")
    qty: int = Field(ge=1, description="How many.")

    @field_validator("sku")
    @classmethod
    def known_prefix(cls, value: str) -> str:
        if not value.startswith("A-"):
            raise ValueError("an article number starts with 'A-'")
        return value


class Order(BaseModel):
    """An order to price."""

    customer: str = Field(description="Who orders.")
    lines: list[Line] = Field(description="What they order.")
    express: bool = Field(default=False, description="Ship today.")


class Priced(BaseModel):
    """The price of an order."""

    customer: str = Field(description="Who ordered.")
    total: int = Field(description="The total, in cents.")
    priced_at: datetime = Field(description="When it was priced.")


PRICED_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class PriceOrder(BaseTask):
    """Prices an order."""

    id = "test.price_order"
    input_model = Order
    output_model = Priced

    async def execute(self, inputs: Order) -> Priced:
        assert isinstance(inputs, Order), type(inputs)
        per_unit = 150 if inputs.express else 100
        total = sum(line.qty for line in inputs.lines) * per_unit
        return Priced(customer=inputs.customer, total=total, priced_at=PRICED_AT)


class PriceOrderFromDict(PriceOrder):
    """Prices an order, reading it as a dict."""

    id = "test.price_order_dict"
    inputs_as_dict = True

    async def execute(self, inputs: Any) -> Any:
        assert isinstance(inputs, dict), type(inputs)
        return {"seen": inputs}


class Progressing(BaseTask):
    """Yields its result as a model."""

    id = "test.progressing"
    input_model = Order

    async def execute(self, inputs: Order) -> AsyncIterator[TaskCtl]:
        yield TaskCtl.report_progress("half way", 50)
        yield TaskCtl.success(data=Priced(customer=inputs.customer, total=1, priced_at=PRICED_AT))


ORDER = {"customer": "acme", "lines": [{"sku": "A-1", "qty": 2}, {"sku": "A-2", "qty": 3.0}]}


@pytest.fixture
def registry() -> ExecutorRegistry:
    return ExecutorRegistry(discover_plugins=False)


def context() -> ExecutionContext:
    return ExecutionContext(task_id="t1", tree_id="r", key="k")


def test_the_schemas_are_the_models_json_schemas(registry: ExecutorRegistry) -> None:
    info = registry.register(PriceOrder)
    assert info.input_schema == Order.model_json_schema()
    assert info.output_schema == Priced.model_json_schema(mode="serialization")
    assert info.input_schema["properties"]["express"]["default"] is False
    assert info.models is not None and info.models.input_model is Order


async def test_execute_receives_the_validated_model_and_a_returned_model_is_stored_as_json() -> (
    None
):
    task = await run_executor(PriceOrder, ORDER)
    assert task.status is TaskStatus.COMPLETED, task.error
    # 3.0 was coerced to 3 by the model; the datetime is stored in JSON mode
    assert task.result == {"customer": "acme", "total": 500, "priced_at": "2030-01-02T03:04:05Z"}


async def test_inputs_as_dict_receives_the_validated_values_as_json() -> None:
    task = await run_executor(PriceOrderFromDict, ORDER)
    assert task.result is not None
    assert task.result["seen"] == {
        "customer": "acme",
        "lines": [{"sku": "A-1", "qty": 2}, {"sku": "A-2", "qty": 3}],
        "express": False,
    }


async def test_inputs_breaking_the_json_schema_are_refused_when_the_tree_is_created() -> None:
    with pytest.raises(DefinitionError, match=r"inputs\.lines\[0\]\.qty: 0 is less than"):
        await run_executor(PriceOrder, {"customer": "acme", "lines": [{"sku": "A-1", "qty": 0}]})


async def test_the_models_own_validators_run_before_execute_and_name_the_field() -> None:
    inputs = {"customer": "acme", "lines": [{"sku": "A-1", "qty": 1}, {"sku": "B-7", "qty": 1}]}
    task = await run_executor(PriceOrder, inputs)
    assert (task.status, task.error_type) == (TaskStatus.FAILED, "InputValidationError")
    assert task.error is not None
    assert task.error.startswith("inputs.lines[1].sku: Value error, an article number starts")
    assert "(model rule 'value_error')" in task.error


async def test_references_are_resolved_before_the_model_validates() -> None:
    definition = {
        "key": "root",
        "children": [
            {"key": "who", "executor": "noop", "inputs": {"name": "acme", "n": 4}},
            {
                "key": "price",
                "executor": "test.price_order",
                "dependencies": ["who"],
                "inputs": {
                    "customer": "${who.result.name}",
                    "lines": [{"sku": "A-9", "qty": "${who.result.n}"}],
                },
            },
        ],
    }
    manager = TaskManager(create_session("memory://"))
    try:
        with registered(PriceOrder):
            tree = await manager.run_tree(definition)
    finally:
        await manager.close()
    price = next(node.task for node in tree.walk() if node.task.key == "price")
    assert price.status is TaskStatus.COMPLETED, price.error
    assert price.result is not None and price.result["total"] == 400


async def test_a_model_yielded_by_a_generator_is_stored_as_json(registry: ExecutorRegistry) -> None:
    info = registry.register(Progressing)
    outcome = await invoke(info, ORDER, context())
    assert outcome.status is TaskStatus.COMPLETED
    assert outcome.result == {"customer": "acme", "total": 1, "priced_at": "2030-01-02T03:04:05Z"}


async def test_a_model_executor_honours_the_kits_contract() -> None:
    await check_executor(PriceOrder, examples=[ORDER])


def test_a_model_that_is_not_a_pydantic_model_is_refused(registry: ExecutorRegistry) -> None:
    class Wrong(BaseTask):
        id = "test.wrong"
        input_model = dict  # type: ignore[assignment]

        async def execute(self, inputs: Any) -> Any:
            return {}

    with pytest.raises(RegistryError, match=r"'test\.wrong': input_model must be a pydantic"):
        registry.register(Wrong)


def test_a_schema_and_a_model_for_the_same_side_are_refused(registry: ExecutorRegistry) -> None:
    class Both(BaseTask):
        id = "test.both"
        input_schema = {"type": "object"}
        input_model = Order

        async def execute(self, inputs: Any) -> Any:
            return {}

    with pytest.raises(RegistryError, match="declares both input_schema and input_model"):
        registry.register(Both)


def test_property_style_executors_may_declare_models(registry: ExecutorRegistry) -> None:
    class PropertyStyle(ExecutableTask):
        input_model = Order

        @property
        def id(self) -> str:
            return "test.property_style"

        async def execute(self, inputs: Any) -> Any:
            return {}

    info = registry.register(PropertyStyle)
    assert info.input_schema == Order.model_json_schema()
    assert info.output_schema is None


def test_import_taskflow_does_not_import_pydantic() -> None:
    probe = (
        "import sys, taskflow, taskflow.executors.models; "
        "from taskflow.executors import get_registry; get_registry().get('noop'); "
        "print('pydantic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
