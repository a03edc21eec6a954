"""The dashboard in a real headless Chromium against a real server: sign in, watch a tree
complete live, cancel, approve, read a traceback, retry, the executors, a 10,000-task tree,
and a narrow window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from api_server import ApiServer

from taskflow import BaseTask
from taskflow.executors import registered

from .conftest import NARROW, Page

pytestmark = pytest.mark.slow


class Boom(BaseTask):
    """Fails with a traceback the page must show."""

    id = "test.boom"
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    async def execute(self, inputs: dict[str, Any]) -> Any:
        raise ValueError("the boom executor always fails")


@pytest.fixture(autouse=True)
def _executors() -> Iterator[None]:
    with registered(Boom):
        yield


def tree(name: str, *tasks: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "tasks": list(tasks)}


async def submit(api: ApiServer, document: dict[str, Any], who: str = "ann") -> str:
    status, body, _ = await api.call("POST", "/v1/trees", who, json=document)
    assert status == 202, body
    return str(body["id"])


async def tree_status(page: Page) -> str:
    return str(await page.page.inner_text("#tree-status"))


async def wait_text(page: Page, selector: str, text: str, timeout: float = 15_000) -> None:
    await page.page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)",
        arg=[selector, text],
        timeout=timeout,
    )


async def test_a_wrong_key_is_refused_and_a_right_one_lists_only_the_users_trees(
    page: Page, api: ApiServer
) -> None:
    mine = await submit(api, tree("ann's", {"key": "a", "executor": "noop"}))
    theirs = await submit(api, tree("bob's", {"key": "b", "executor": "noop"}), who="bob")
    await page.page.goto(api.url + "/")
    await page.page.fill("#api-key", "tf_nottherightkey_abc")
    await page.page.click("#sign-in button[type=submit]")
    await wait_text(page, "#sign-in-error", "not valid")
    await page.sign_in("ann")
    await page.page.wait_for_selector(f"tr[data-tree='{mine}']")
    assert await page.page.query_selector(f"tr[data-tree='{theirs}']") is None
    await page.shot("trees")


async def test_a_submitted_tree_reaches_completed_on_the_page_without_a_reload(
    page: Page, api: ApiServer
) -> None:
    await page.sign_in()
    steps = [
        {"key": f"step{i}", "executor": "sleep", "inputs": {"seconds": 0.3},
         "dependencies": [f"step{i - 1}"] if i else []}
        for i in range(4)
    ]  # fmt: skip
    tree_id = await submit(api, tree("live", *steps))
    await page.open_tree(tree_id)
    navigations = await page.page.evaluate("performance.getEntriesByType('navigation').length")
    await wait_text(page, ".row[data-key=step1]", "")  # the rows are there
    await page.page.wait_for_selector(".row[data-key=step0][data-status=completed]", timeout=15_000)
    await wait_text(page, "#tree-status", "completed")
    assert await page.page.evaluate("performance.getEntriesByType('navigation').length") == (
        navigations
    )
    statuses = await page.page.eval_on_selector_all(
        ".row", "rows => rows.map(r => r.dataset.status)"
    )
    assert set(statuses) == {"completed"}
    await page.shot("tree-completed")


async def test_a_running_tree_is_cancelled_from_the_page(page: Page, api: ApiServer) -> None:
    await page.sign_in()
    tree_id = await submit(
        api, tree("long", {"key": "nap", "executor": "sleep", "inputs": {"seconds": 60}})
    )
    await page.open_tree(tree_id)
    await page.page.wait_for_selector(".row[data-key=nap][data-status=in_progress]", timeout=15_000)
    page.page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.page.click("#cancel-tree")
    await wait_text(page, "#tree-status", "cancelled")
    await page.page.wait_for_selector(".row[data-key=nap][data-status=cancelled]")
    _, body, _ = await api.call("GET", f"/v1/trees/{tree_id}")
    assert body["status"] == "cancelled"


async def test_a_waiting_task_stands_out_and_is_approved_from_the_page(
    page: Page, api: ApiServer
) -> None:
    await page.sign_in()
    tree_id = await submit(
        api,
        tree(
            "approval",
            {"key": "ask", "executor": "signal.wait", "inputs": {"key": "approval"}},
            {"key": "after", "executor": "noop", "dependencies": ["ask"],
             "inputs": {"answer": "${ask.result.data}"}},
        ),
    )  # fmt: skip
    await page.open_tree(tree_id)
    await page.page.wait_for_selector(".row[data-key=ask][data-status=waiting]", timeout=15_000)
    await wait_text(page, "#waiting", "approval")
    await page.shot("tree-waiting")
    await page.page.click("#waiting button")
    await page.page.fill("#approve-data", '{"approved": true, "by": "ann"}')
    await page.shot("task-approve")
    await page.page.click("#approve")
    await wait_text(page, "#tree-status", "completed")
    _, body, _ = await api.call("GET", f"/v1/trees/{tree_id}")
    after = next(t for t in body["tasks"] if t["key"] == "after")
    assert after["result"] == {"answer": {"approved": True, "by": "ann"}}


async def test_a_failed_tasks_traceback_is_shown_and_it_is_retried_from_the_page(
    page: Page, api: ApiServer
) -> None:
    await page.sign_in()
    tree_id = await submit(api, tree("fails", {"key": "boom", "executor": "test.boom"}))
    await page.open_tree(tree_id)
    await wait_text(page, "#tree-status", "failed")
    await page.page.click(".row[data-key=boom]")
    await wait_text(page, "#traceback", "ValueError: the boom executor always fails")
    await wait_text(page, "#task-error", "the boom executor always fails")
    await page.shot("task-failed")
    await page.page.click("#retry-task")
    await page.page.wait_for_selector(".attempts-table tbody tr:nth-child(2)", timeout=15_000)
    _, body, _ = await api.call("GET", f"/v1/trees/{tree_id}")
    boom = next(t for t in body["tasks"] if t["key"] == "boom")
    assert (boom["attempt"], boom["status"]) == (2, "failed")


async def test_the_executors_page_shows_descriptions_and_input_schemas(
    page: Page, api: ApiServer
) -> None:
    await page.sign_in()
    await page.page.goto(f"{api.url}/#/executors/sleep")
    await wait_text(page, "#executor-sleep", "How long to wait.")
    await wait_text(page, "#executors", "noop")
    await page.shot("executors")


async def test_a_ten_thousand_task_tree_renders_quickly_and_scrolls(
    page: Page, api: ApiServer
) -> None:
    groups = [
        {
            "key": f"g{g}",
            "children": [{"key": f"g{g}-t{t}", "executor": "noop"} for t in range(100)],
        }
        for g in range(100)
    ]
    definition = {"key": "big", "children": groups}
    created = await api.manager.create_tree(definition, user_id="ann", queued=True)
    tree_id = created.task.id  # it runs while the page shows it: 20,000 events stream in
    await page.sign_in()
    began = time.perf_counter()
    await page.open_tree(tree_id)
    await page.page.wait_for_selector(".row[data-key=g0]")
    seconds = time.perf_counter() - began
    first_render = int(await page.page.get_attribute("#view", "data-first-render-ms") or 0)
    print(f"10,000-task tree: first render {first_render} ms in the page, {seconds:.2f} s in all")
    assert await page.page.locator(".row").count() < 200  # windowed: only what is in view
    await page.page.eval_on_selector("#tasks", "el => { el.scrollTop = 30 * 48; }")
    await page.page.click(".row[data-key=g50] .toggle")
    await page.page.wait_for_selector(".row[data-key='g50-t0']")
    await page.page.eval_on_selector("#tasks", "el => { el.scrollTop = el.scrollHeight; }")
    await page.page.wait_for_selector(".row[data-key=g99]")
    await page.page.eval_on_selector("#tasks", "el => { el.scrollTop = 30 * 80; }")
    await page.page.wait_for_selector(".row[data-key='g50-t28']")
    assert await page.page.locator(".row").count() < 200
    await wait_text(page, "#tree-status", "completed", timeout=60_000)
    await page.page.wait_for_selector(".row[data-key='g50-t28'][data-status=completed]")
    await page.shot("tree-10k")
    assert seconds < 10


async def test_the_pages_fit_a_narrow_window(browser: Any, api: ApiServer) -> None:
    context = await browser.new_context(viewport=NARROW)
    page = Page(await context.new_page(), api)
    try:
        await page.sign_in()
        tree_id = await submit(api, tree("narrow", {"key": "ask", "executor": "signal.wait"}))
        await page.page.reload()
        await page.page.wait_for_selector(f"tr[data-tree='{tree_id}']")
        await page.shot("narrow-trees")
        await page.open_tree(tree_id)
        await page.page.wait_for_selector(".row[data-key=ask][data-status=waiting]", timeout=15_000)
        await page.page.click(".row[data-key=ask]")
        await page.page.wait_for_selector("#approve")
        width = await page.page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"the page is {width} px wide in a 390 px window"
        await page.shot("narrow-tree")
    finally:
        await context.close()
    assert page.errors == []


async def test_schedules_are_listed_paused_and_run_now_from_the_page(
    page: Page, api: ApiServer
) -> None:
    document = {
        "name": "nightly",
        "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Paris"},
        "tasks": [{"key": "a", "executor": "noop"}],
    }
    status, created, _ = await api.call("POST", "/v1/schedules", json=document)
    assert status == 201, created
    await page.sign_in()
    await page.page.goto(f"{api.url}/#/schedules/{created['id']}")
    row = f"tr[data-schedule='{created['id']}']"
    await page.page.wait_for_selector(f"{row}[data-state=active]")
    await wait_text(page, row, "cron 0 3 * * * (Europe/Paris)")
    await page.page.wait_for_selector("#next-fires li")
    await page.page.click(f"{row} button.pause")
    await page.page.wait_for_selector(f"{row}[data-state=paused]")
    _, shown, _ = await api.call("GET", f"/v1/schedules/{created['id']}")
    assert shown["state"] == "paused"
    await page.page.click(f"{row} button.trigger")
    await page.page.wait_for_selector("#fires a", timeout=15_000)  # the tree it started
    await page.shot("schedules")
    await page.page.click("#fires a")
    await page.page.wait_for_selector("#view[data-ready=true]")
    await wait_text(page, "#tree-status", "completed")
