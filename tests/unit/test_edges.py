"""Typed edges through the API: references checked against both ends' schemas before anything
runs (`TaskManager.check`, `create_tree`, `run_tree`, `create_task`), results checked at run
time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

import pytest
from edge_executors import ALL

from taskflow import (
    BaseTask,
    DefinitionError,
    ExecutorRegistry,
    MemoryRepository,
    TaskManager,
    TaskStatus,
    create_session,
)
from taskflow.edges import EdgeStatus, tree_edges
from taskflow.exceptions import IncompatibleReference
from taskflow.executors import BUILTIN_EXECUTORS


def make_registry() -> ExecutorRegistry:
    registry = ExecutorRegistry(discover_plugins=False)
    for executor in (*BUILTIN_EXECUTORS, *ALL):
        registry.register(executor)
    return registry


@pytest.fixture
def registry() -> ExecutorRegistry:
    return make_registry()


@pytest.fixture
async def manager(registry: ExecutorRegistry) -> AsyncIterator[TaskManager]:
    manager = TaskManager(create_session("memory://"), registry=registry)
    yield manager
    await manager.close()


def tree(*children: dict[str, Any]) -> dict[str, Any]:
    return {"name": "edges", "children": list(children)}


CATALOG = {"key": "catalog", "executor": "edges.catalog"}


def consumer(inputs: dict[str, Any], executor: str = "edges.total", **more: Any) -> dict[str, Any]:
    return {
        "key": "sum",
        "executor": executor,
        "dependencies": ["catalog"],
        "inputs": inputs,
        **more,
    }


def refused(manager: TaskManager, definition: dict[str, Any]) -> IncompatibleReference:
    with pytest.raises(IncompatibleReference) as caught:
        manager.check(definition)
    return caught.value


# -- the four cases before anything runs ------------------------------------------------------


async def test_a_misspelt_result_path_names_both_tasks_the_path_and_both_schemas(
    manager: TaskManager,
) -> None:
    error = refused(manager, tree(CATALOG, consumer({"values": "${catalog.result.bdy.items}"})))
    assert str(error) == (
        "task 'sum': inputs.values = ${catalog.result.bdy.items}: 'catalog' (edges.catalog) "
        "cannot produce it: result has no 'bdy': it declares body, source, and no other "
        "(additionalProperties: false); did you mean 'body'? (output schema of 'catalog' at "
        'result: {"type": "object", "properties": {"body": {"$ref": "#/$defs/Body"}, '
        '"source": {"type": "string"}}, "required": ["body", "source"], '
        '"additionalProperties": false}; input schema of \'sum\' there: {"type": "array", '
        '"items": {"type": "number"}})'
    )
    assert (error.task, error.producer, error.field) == ("sum", "catalog", "inputs.values")
    assert error.reference == "${catalog.result.bdy.items}"
    assert error.expected == {"type": "array", "items": {"type": "number"}}
    assert error.produced["required"] == ["body", "source"]
    assert isinstance(error, DefinitionError)  # the CLI maps .task to the file's line


async def test_a_type_mismatch_through_nested_properties_and_list_items(
    manager: TaskManager,
) -> None:
    error = refused(
        manager, tree(CATALOG, consumer({"values": "${catalog.result.body.items.0.name}"}))
    )
    assert str(error) == (
        "task 'sum': inputs.values = ${catalog.result.body.items.0.name}: what 'catalog' "
        "(edges.catalog) produces at result.body.items.0.name can never be what 'sum' "
        "(edges.total) accepts there: it is a string, and an array is expected (output schema "
        'of \'catalog\' at result.body.items.0.name: {"type": "string"}; input schema of '
        '\'sum\' there: {"type": "array", "items": {"type": "number"}})'
    )
    sleep = {
        "key": "nap",
        "executor": "sleep",
        "dependencies": ["catalog"],
        "inputs": {"seconds": "${catalog.result.body.items.1.tags}"},
    }
    error = refused(manager, tree(CATALOG, sleep))
    assert "it is an array, and a number is expected" in str(error)
    assert error.produced == {"type": "array", "items": {"type": "string"}}


async def test_a_path_through_a_ref_is_followed(manager: TaskManager) -> None:
    error = refused(
        manager, tree(CATALOG, consumer({"values": "${catalog.result.body.items.0.sise}"}))
    )
    assert str(error).startswith(
        "task 'sum': inputs.values = ${catalog.result.body.items.0.sise}: 'catalog' "
        "(edges.catalog) cannot produce it: result.body.items.0 has no 'sise': it declares "
        "name, size, tags, and no other (additionalProperties: false); did you mean 'size'? "
        "(output schema of 'catalog' at result.body.items.0: #/$defs/Item = {\"type\": "
        '"object", "properties": {"name": {"type": "string"}, "size": {"type": "integer"}'
    )
    checked = manager.check(
        tree(CATALOG, consumer({"values": ["${catalog.result.body.items.0.size}"]}))
    )
    [edge] = tree_edges(checked, manager.registry.get)
    assert (edge.status, edge.produced_type, edge.expected_type) == (
        EdgeStatus.CHECKED,
        "integer",
        "number",
    )
    assert edge.field == "inputs.values[0]"


async def test_a_producer_without_an_output_schema_is_not_judged(manager: TaskManager) -> None:
    untyped = {"key": "catalog", "executor": "edges.untyped", "inputs": {"xs": [1, 2]}}
    definition = tree(untyped, consumer({"values": "${catalog.result.xs}"}))
    tasks = manager.check(definition)  # no error: nothing says what it returns
    [edge] = tree_edges(tasks, manager.registry.get)
    assert (edge.status, edge.note) == (
        EdgeStatus.UNCHECKED,
        "'catalog' (edges.untyped) declares no output schema",
    )
    done = await manager.run_tree(definition)
    assert done.find("sum").task.result == {"label": "total", "total": 3}  # type: ignore[union-attr]


# -- at run time ------------------------------------------------------------------------------


async def test_a_result_that_violates_its_own_schema_fails_the_task(manager: TaskManager) -> None:
    broken = {**CATALOG, "inputs": {"broken": True}}
    done = await manager.run_tree(
        tree(broken, consumer({"values": ["${catalog.result.body.count}"]}))
    )
    catalog = done.find("catalog").task  # type: ignore[union-attr]
    assert (catalog.status, catalog.error_type) == (TaskStatus.FAILED, "OutputValidationError")
    assert catalog.error == (
        "result.body.items[1].size: '3' is not of type 'integer' (output schema rule 'type' of "
        "executor 'edges.catalog')"
    )
    assert catalog.result["body"]["items"][1]["size"] == "3"  # kept, to show what came back
    assert done.find("sum").task.status is TaskStatus.CANCELLED  # type: ignore[union-attr]


async def test_an_executor_may_opt_out_of_the_run_time_check(manager: TaskManager) -> None:
    done = await manager.run_tree({"key": "loose", "executor": "edges.loose"})
    assert (done.task.status, done.task.result) == (TaskStatus.COMPLETED, {"n": "three"})


async def test_edges_that_fit_run(manager: TaskManager) -> None:
    definition = tree(
        CATALOG,
        consumer(
            {
                "values": ["${catalog.result.body.count}", "${catalog.result.body.items.1.size}"],
                "label": "${catalog.result.source} (${catalog.result.body.count} items)",
            }
        ),
    )
    tasks = manager.check(definition)
    assert {e.status for e in tree_edges(tasks, manager.registry.get)} == {EdgeStatus.CHECKED}
    done = await manager.run_tree(definition)
    assert done.find("sum").task.result == {"label": "test (2 items)", "total": 5}  # type: ignore[union-attr]


# -- what a reference carries -----------------------------------------------------------------


async def test_a_reference_inside_text_makes_a_string(manager: TaskManager) -> None:
    error = refused(
        manager, tree(CATALOG, consumer({"values": "all: ${catalog.result.body.items}"}))
    )
    assert "a reference inside a longer string makes a string, which 'sum' (edges.total)" in str(
        error
    )
    assert "it is a string, and an array is expected" in str(error)
    # the path is still checked
    error = refused(
        manager, tree(CATALOG, consumer({"values": [], "label": "n=${catalog.result.body.cont}"}))
    )
    assert "result.body has no 'cont'" in str(error) and "did you mean 'count'?" in str(error)


async def test_a_field_the_consumer_does_not_accept(manager: TaskManager) -> None:
    error = refused(
        manager, tree(CATALOG, consumer({"values": [], "lable": "${catalog.result.source}"}))
    )
    assert str(error).startswith(
        "task 'sum': inputs.lable = ${catalog.result.source}: 'sum' (edges.total) accepts no "
        "inputs.lable: inputs has no 'lable': it declares label, values, and no other "
        "(additionalProperties: false); did you mean 'label'?"
    )


async def test_a_groups_result_holds_its_childrens_by_key(manager: TaskManager) -> None:
    group = {"key": "shop", "children": [CATALOG, {"key": "nap", "executor": "sleep"}]}
    use = {
        "key": "sum",
        "executor": "edges.total",
        "dependencies": ["shop"],
        "inputs": {"values": ["${shop.result.catalog.body.count}", "${shop.result.nap.slept}"]},
    }
    tasks = manager.check(tree(group, use))
    assert [e.status for e in tree_edges(tasks, manager.registry.get)] == [EdgeStatus.CHECKED] * 2
    done = await manager.run_tree(tree(group, use))
    assert done.find("sum").task.status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    unused = {**group, "dependencies": ["nap2"], "inputs": {"x": "${nap2.result.nothing}"}}
    manager.check(tree(unused, use, {"key": "nap2", "executor": "sleep"}))  # a group's: unused
    use["inputs"] = {"values": ["${shop.result.catalogue.body.count}"]}
    error = refused(manager, tree(group, use))
    assert "a group's result holds its children's results by key (catalog, nap), and " in str(error)
    assert "'catalogue' is none of them; did you mean 'catalog'?" in str(error)


async def test_status_and_error(manager: TaskManager) -> None:
    error = refused(manager, tree(CATALOG, consumer({"values": "${catalog.status}"})))
    assert "it is a string, and an array is expected" in str(error)
    error = refused(
        manager, tree(CATALOG, consumer({"values": [], "label": "${catalog.error.message}"}))
    )
    assert "error has no 'message': it is a string or null, which holds nothing" in str(error)


async def test_an_optional_dependency_result_is_not_judged_but_its_status_is(
    manager: TaskManager,
) -> None:
    optional = {
        "key": "sum",
        "executor": "edges.total",
        "dependencies": [{"id": "catalog", "required": False}],
        "inputs": {"values": "${catalog.result.bdy}", "label": "${catalog.status}"},
    }
    tasks = manager.check(tree(CATALOG, optional))
    result_edge, status_edge = tree_edges(tasks, manager.registry.get)
    assert result_edge.status is EdgeStatus.UNCHECKED
    assert "'catalog' may end without completing" in result_edge.note
    assert status_edge.status is EdgeStatus.CHECKED
    # required further up the chain: then it must have completed
    chain = [
        CATALOG,
        {"key": "mid", "executor": "noop", "dependencies": ["catalog"]},
        {**optional, "dependencies": ["mid", {"id": "catalog", "required": False}]},
    ]
    assert "cannot produce it" in str(refused(manager, tree(*chain)))


async def test_single_tasks_are_checked_as_they_join_a_tree(registry: ExecutorRegistry) -> None:
    repository = MemoryRepository(registry=registry)
    root = await repository.create_task("edges.catalog", key="catalog")
    with pytest.raises(IncompatibleReference, match=re.escape("result has no 'bdy'")):
        await repository.create_task(
            "edges.total",
            key="sum",
            parent_id=root.id,
            dependencies=["catalog"],
            inputs={"values": "${catalog.result.bdy}"},
        )
    assert len(await repository.list_tasks()) == 1


async def test_a_wrong_edge_writes_nothing(manager: TaskManager) -> None:
    with pytest.raises(IncompatibleReference):
        await manager.create_tree(tree(CATALOG, consumer({"values": "${catalog.result.source}"})))
    assert await manager.task_repository.list_tasks() == []


# -- pydantic models at both ends -------------------------------------------------------------

pydantic = pytest.importorskip("pydantic")


class Line(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")  # its schema: additionalProperties false

    sku: str
    quantity: int
    price: Decimal
    shipped: datetime | None = None


class Order(pydantic.BaseModel):
    lines: list[Line]
    status: Literal["open", "closed"] = "open"


class Place(BaseTask):
    """Places an order (returns a model instance, or a plain dict when asked to)."""

    id = "edges.order"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {"as_dict": {"type": "boolean", "default": False}},
    }
    output_model = Order

    async def execute(self, inputs: dict[str, Any]) -> Any:
        """Return the order."""
        if inputs["as_dict"]:
            return {"lines": [{"sku": "a", "quantity": "many", "price": "1.5"}]}
        shipped = datetime(2026, 1, 2, tzinfo=UTC)
        return Order(lines=[Line(sku="a", quantity=2, price=Decimal("1.50"), shipped=shipped)])


class Pick(BaseTask):
    """Picks a quantity."""

    id = "edges.pick"
    input_model = Line
    output_schema: ClassVar[Mapping[str, Any] | None] = {"type": "object"}

    async def execute(self, inputs: Any) -> dict[str, Any]:
        """Echo the quantity."""
        return {"quantity": inputs.quantity}


@pytest.fixture
def model_manager(registry: ExecutorRegistry) -> TaskManager:
    registry.register(Place)
    registry.register(Pick)
    return TaskManager(create_session("memory://"), registry=registry)


async def test_a_model_executors_results_are_checked_by_its_schema(
    model_manager: TaskManager,
) -> None:
    done = await model_manager.run_tree({"key": "order", "executor": "edges.order"})
    assert done.task.status is TaskStatus.COMPLETED, done.task.error
    assert done.task.result["lines"][0]["price"] == "1.50"  # type: ignore[index]
    done = await model_manager.run_tree(
        {"key": "order", "executor": "edges.order", "inputs": {"as_dict": True}}
    )
    assert (done.task.status, done.task.error_type) == (TaskStatus.FAILED, "OutputValidationError")
    assert (done.task.error or "").startswith("result.lines[0].quantity: 'many' is not of type")
    await model_manager.close()


async def test_edges_between_models_follow_their_defs(model_manager: TaskManager) -> None:
    pick = {
        "key": "pick",
        "executor": "edges.pick",
        "dependencies": ["order"],
        "inputs": {
            "sku": "${order.result.lines.0.sku}",
            "price": "${order.result.lines.0.price}",
            "quantity": "${order.result.lines.0.quantity}",
            "shipped": "${order.result.lines.0.shipped}",
        },
    }
    order = {"key": "order", "executor": "edges.order"}
    tasks = model_manager.check(tree(order, pick))
    statuses = {e.field: e.status for e in tree_edges(tasks, model_manager.registry.get)}
    assert set(statuses.values()) == {EdgeStatus.CHECKED}, statuses
    done = await model_manager.run_tree(tree(order, pick))
    assert done.find("pick").task.result == {"quantity": 2}  # type: ignore[union-attr]
    pick["inputs"] = {**pick["inputs"], "quantity": "${order.result.status}"}
    error = refused(model_manager, tree(order, pick))
    assert "it is a string, and an integer is expected" in str(error)
    pick["inputs"] = {**pick["inputs"], "quantity": "${order.result.lines.0.quantty}"}
    assert "did you mean 'quantity'?" in str(refused(model_manager, tree(order, pick)))
    # Order allows extra fields (pydantic's default): a name it does not declare may be there
    pick["inputs"] = {**pick["inputs"], "quantity": "${order.result.count}"}
    [edge] = [
        e
        for e in tree_edges(model_manager.check(tree(order, pick)), model_manager.registry.get)
        if e.field == "inputs.quantity"
    ]
    assert (edge.status, edge.note) == (
        EdgeStatus.UNCHECKED,
        "the output schema of 'order' (edges.order) does not describe result.count",
    )
    await model_manager.close()
