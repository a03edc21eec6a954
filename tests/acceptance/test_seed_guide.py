"""Every ```python block of the seed guide (custom-tasks.md) runs as written.

Each block, with ``aipartnerupflow`` renamed ``taskflow`` and otherwise unchanged, runs as a
script in a subprocess, between a prelude and an epilogue from `HARNESSES`. Epilogues run the
block's executor through a real `TaskManager` (see ``seed_guide/guide_harness.py``) and print a
report, which must equal the harness's ``expected``. A block that no harness matches fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp import web

HERE = Path(__file__).parent / "seed_guide"
GUIDE = HERE / "custom-tasks.md"
FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
REPORT_PREFIX = "GUIDE-REPORT "
PYTEST_OPTIONS = ("-q", "-rA", "-p", "no:cacheprovider", "-W", "error")
PYTEST_OPTIONS += ("-o", "asyncio_default_fixture_loop_scope=function")
HAS_REQUESTS = importlib.util.find_spec("requests") is not None

Runner = Literal["script", "await", "pytest", "invalid"]


@dataclasses.dataclass(frozen=True)
class Harness:
    """How to run one guide block, and the report it must print.

    ``marker`` is a regex found in exactly one block. ``runner``: ``script`` (python FILE),
    ``await`` (top-level await allowed), ``pytest`` (the block is a test file), ``invalid``
    (the block is not valid Python; ``expected`` is the error, and the case xfails).
    """

    slug: str
    marker: str
    expected: Any
    prelude: str = ""
    epilogue: str = ""
    runner: Runner = "script"
    modules: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    api_server: bool = False


def guide_blocks() -> list[str]:
    """The guide's python blocks, ``aipartnerupflow`` renamed, nothing else changed."""
    text = GUIDE.read_text(encoding="utf-8")
    return [m.group(1).replace("aipartnerupflow", "taskflow") for m in FENCE.finditer(text)]


def task(
    status: str, result: Any = None, error: str | None = None, error_type: str | None = None
) -> dict[str, Any]:
    """A stored task as `guide_harness.summary` reports it."""
    return {"status": status, "result": result, "error": error, "error_type": error_type}


def done(result: Any) -> dict[str, Any]:
    return task("completed", result)


def failed(error: str, error_type: str, result: Any = None) -> dict[str, Any]:
    return task("failed", result, error, error_type)


def invalid(message: str) -> dict[str, Any]:
    """Inputs that break the schema: the task is refused when it is created (nothing runs)."""
    return task("refused", None, message, "DefinitionError")


def executor(
    ident: str, name: str = "GuideFragment", description: str = "", source: str = "__main__"
) -> dict[str, str]:
    """An executor as `guide_harness.describe` reports it."""
    return {"id": ident, "name": name, "description": description, "source": source}


def fragment(*tasks: dict[str, Any], **info: str) -> dict[str, Any]:
    """The report of `guide_harness.run` on an `executor_from` class."""
    return {"executor": executor(info.pop("ident", "guide_fragment"), **info), "tasks": list(tasks)}


IMPORTS = (
    "from typing import Any, Dict\n\nimport guide_harness\nfrom taskflow import ExecutableTask\n"
)
OPERATION = IMPORTS + "from guide_harness import SpecificError, perform_operation\n"
RUN = "guide_harness.report(guide_harness.run({}, {}))\n"


def run_fragment(*inputs: str, members: str = '"execute"') -> str:
    cls = f"guide_harness.executor_from(globals(), {members})"
    return "\n" + RUN.format(cls, ", ".join(inputs))


def run_properties(*inputs: str) -> str:
    """Epilogue for a block that is the body of a ``properties`` dict."""
    schema = 'schema={"type": "object", "properties": properties}'
    return "}\n" + RUN.format(f"guide_harness.executor_from({{}}, {schema})", ", ".join(inputs))


MY_CUSTOM_TASK = done({"status": "completed", "result": "..."})
REGISTERED = executor("my_custom_task", "My Custom Task", "Performs custom operations", "my_module")
JSON_BODY = {"message": "hello", "items": [1, 2, 3]}
JSON_TYPE = "application/json; charset=utf-8"
URL_REQUIRED = "inputs: 'url' is a required property (schema rule 'required')"


def api_result(code: int, data: Any, content_type: str) -> dict[str, Any]:
    headers = {"Content-Type": content_type}
    return done({"status": "completed", "status_code": code, "data": data, "headers": headers})


API_EPILOGUE = """
import os

base = os.environ["GUIDE_API_URL"]
outcome = guide_harness.run(
    APICallTask,
    {"url": base + "/json"},
    {"url": base + "/echo", "method": "POST", "data": {"n": 1}, "headers": {"X-Guide": "yes"}},
    {"url": base + "/text"},
    {"url": base + "/missing"},
    {"url": base + "/slow", "timeout": 1},
    {"method": "GET"},
)
guide_harness.report(guide_harness.trim_headers(outcome))
"""

CANCEL_EPILOGUE = """
import asyncio

Cancellable = guide_harness.executor_from(globals(), "cancel")
outcome = guide_harness.run(Cancellable, {"n": 1})
executor = Cancellable()
first = asyncio.run(executor.cancel())
executor._partial_result = {"rows": 2}
second = asyncio.run(executor.cancel())
guide_harness.report({"run": outcome, "cancel": [first, second], "flag": executor._cancelled})
"""

DATABASE_EPILOGUE = """
import os

SCRIPT = '''
CREATE TABLE users (id INTEGER, name TEXT);
INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'linus');
'''
path = os.path.join(os.environ["TASKFLOW_HOME"], "guide-data.db")
query = DatabaseQueryTask(guide_harness.SqliteConnection(path, SCRIPT))
outcome = guide_harness.run(
    query,
    {"query": "SELECT name FROM users WHERE id <= :max ORDER BY id", "params": {"max": 2}},
    {"query": "SELECT name FROM nope"},
)
guide_harness.report(outcome)
"""

INTEGRATION_EPILOGUE = """
import asyncio

import guide_harness

asyncio.run(test_task_integration())
guide_harness.report(asyncio.run(guide_harness.stored(create_session())))
"""

USING_PRELUDE = """import guide_harness
from my_module import MyCustomTask
from taskflow import TaskManager, TaskTreeNode, create_session

task_manager = TaskManager(create_session(guide_harness.database_url()))
"""

USING_EPILOGUE = """
await task_manager.distribute_task_tree(TaskTreeNode(task))
await task_manager.close()
guide_harness.report(await guide_harness.load(task.id))
"""

ASYNC_IO_PRELUDE = (
    IMPORTS + 'import os\n\nimport aiohttp\n\nurl = os.environ["GUIDE_API_URL"] + "/json"\n'
)

ASYNC_IO_EPILOGUE = """
good, bad = guide_harness.definitions("execute")
report = {}
for label, function in (("good", good), ("bad", bad)):
    cls = guide_harness.executor_from({"execute": function}, "execute", name=label.title())
    report[label] = guide_harness.run(cls, {})["tasks"]
guide_harness.report(report)
"""

DOCUMENT_EPILOGUE = """
from taskflow import RegistryError, get_registry

refused = None
try:
    get_registry().register(MyCustomTask)
except RegistryError as exc:
    refused = str(exc)
runnable = guide_harness.executor_from({}, name="MyCustomTask", base=MyCustomTask)
guide_harness.report({"refused": refused, "run": guide_harness.run(runnable, {"n": 1})})
"""

BLOCKING_IO = (
    done({"status": "completed", "data": JSON_BODY})
    if HAS_REQUESTS
    else failed("No module named 'requests'", "ModuleNotFoundError")
)

HARNESSES: tuple[Harness, ...] = (
    Harness(
        "executable-task-interface",
        r"Your custom task implementation",
        prelude="import guide_harness\n\n",
        epilogue="\n" + RUN.format("MyCustomTask", '{"param1": "value1"}, {}'),
        expected={
            "executor": executor("my_custom_task", "My Custom Task", "Performs custom operations"),
            "tasks": [
                MY_CUSTOM_TASK,
                invalid("inputs: 'param1' is a required property (schema rule 'required')"),
            ],
        },
    ),
    Harness(
        "id-property",
        r'return "my_task_id"',
        prelude=IMPORTS,
        epilogue=run_fragment('{"n": 1}', members='"id"'),
        expected=fragment(done({"received": {"n": 1}}), ident="my_task_id"),
    ),
    Harness(
        "name-property",
        r'return "My Task Name"',
        prelude=IMPORTS,
        epilogue=run_fragment("{}", members='"name"'),
        expected=fragment(done({"received": {}}), name="My Task Name"),
    ),
    Harness(
        "description-property",
        r'return "This task performs specific operations"',
        prelude=IMPORTS,
        epilogue=run_fragment("{}", members='"description"'),
        expected=fragment(
            done({"received": {}}), description="This task performs specific operations"
        ),
    ),
    Harness(
        "execute-method",
        r"Input parameters from task\.inputs",
        prelude=OPERATION,
        epilogue=run_fragment('{"numbers": [1, 2, 3]}', "{}"),
        expected=fragment(
            done({"status": "completed", "result": 6}), failed("'numbers'", "KeyError")
        ),
    ),
    Harness(
        "get-input-schema-method",
        r'"description": "URL to process"',
        prelude=IMPORTS,
        epilogue=run_fragment(
            '{"url": "https://example.test"}', '{"timeout": 5}', members='"get_input_schema"'
        ),
        expected=fragment(
            done({"received": {"url": "https://example.test", "timeout": 30}}),
            invalid(URL_REQUIRED),
        ),
    ),
    Harness(
        "api-call-task",
        r"class APICallTask\(ExecutableTask\)",
        prelude="import guide_harness\n\n",
        epilogue=API_EPILOGUE,
        api_server=True,
        expected={
            "executor": executor(
                "api_call_task",
                "API Call Task",
                "Calls an external HTTP API and returns the response",
            ),
            "tasks": [
                api_result(200, JSON_BODY, JSON_TYPE),
                api_result(
                    201,
                    {"method": "POST", "json": {"n": 1}, "x_guide": "yes"},
                    JSON_TYPE,
                ),
                api_result(200, "plain text", "text/plain; charset=utf-8"),
                api_result(404, "404: Not Found", "text/plain; charset=utf-8"),
                failed(
                    "Request timeout after 1 seconds",
                    "TaskFailed",
                    {"status": "failed", "error": "Request timeout after 1 seconds"},
                ),
                invalid(URL_REQUIRED),
            ],
        },
    ),
    Harness(
        "executor-register-decorator",
        r"# \.\.\. rest of implementation",
        prelude="import guide_harness\n\n",
        epilogue="\n" + RUN.format('"my_custom_task"', "{}"),
        expected={
            "executor": executor("my_custom_task", "MyCustomTask"),
            "tasks": [
                failed(
                    "executor 'my_custom_task' (MyCustomTask) does not implement execute()",
                    "ExecutorError",
                )
            ],
        },
    ),
    Harness(
        "import-registered-executor",
        r"\A# Import the executor",
        prelude="import guide_harness\n\n",
        epilogue="\n" + RUN.format('"my_custom_task"', '{"param1": "value1"}'),
        modules=("my_module",),
        expected={"executor": REGISTERED, "tasks": [MY_CUSTOM_TASK]},
    ),
    Harness(
        "using-registered-tasks",
        r"# Use the task's id",
        prelude=USING_PRELUDE,
        epilogue=USING_EPILOGUE,
        runner="await",
        modules=("my_module",),
        expected=[MY_CUSTOM_TASK],
    ),
    Harness(
        "schema-json-format",
        r'"field_name"',
        prelude=IMPORTS,
        epilogue=run_fragment(
            '{"field_name": "given"}', "{}", '{"field_name": 3}', members='"get_input_schema"'
        ),
        expected=fragment(
            done({"received": {"field_name": "given"}}),
            done({"received": {"field_name": "default_value"}}),
            invalid("inputs.field_name: 3 is not of type 'string' (schema rule 'type')"),
        ),
    ),
    Harness(
        "schema-default-values",
        r'\A"timeout"',
        prelude=IMPORTS + "\nproperties = {\n",
        epilogue=run_properties("{}", '{"timeout": 5}', '{"timeout": "soon"}'),
        expected=fragment(
            done({"received": {"timeout": 30}}),
            done({"received": {"timeout": 5}}),
            invalid("inputs.timeout: 'soon' is not of type 'integer' (schema rule 'type')"),
        ),
    ),
    Harness(
        "schema-descriptions",
        r'\A"url"',
        prelude=IMPORTS + "\nproperties = {\n",
        epilogue=run_properties('{"url": "https://example.test/data"}', '{"url": 42}'),
        expected=fragment(
            done({"received": {"url": "https://example.test/data"}}),
            invalid("inputs.url: 42 is not of type 'string' (schema rule 'type')"),
        ),
    ),
    Harness(
        "schema-enums",
        r'\A"method"',
        prelude=IMPORTS + "\nproperties = {\n",
        epilogue=run_properties('{"method": "DELETE"}', '{"method": "PATCH"}'),
        expected=fragment(
            done({"received": {"method": "DELETE"}}),
            invalid(
                "inputs.method: 'PATCH' is not one of ['GET', 'POST', 'PUT', 'DELETE']"
                " (schema rule 'enum')"
            ),
        ),
    ),
    Harness(
        "returning-errors",
        r'"error_type": "ValueError"',
        prelude=OPERATION,
        epilogue=run_fragment('{"numbers": [1, 2]}', '{"numbers": [-1]}', "{}"),
        expected=fragment(
            done({"status": "completed", "result": 3}),
            failed(
                "negative numbers are not allowed",
                "ValueError",
                {
                    "status": "failed",
                    "error": "negative numbers are not allowed",
                    "error_type": "ValueError",
                },
            ),
            failed(
                "'numbers'",
                "KeyError",
                {"status": "failed", "error": "'numbers'", "error_type": "KeyError"},
            ),
        ),
    ),
    Harness(
        "raising-exceptions",
        r'raise ValueError\("required_param is required"\)',
        prelude=IMPORTS,
        epilogue=run_fragment('{"required_param": "x"}', "{}"),
        expected=fragment(MY_CUSTOM_TASK, failed("required_param is required", "ValueError")),
    ),
    Harness(
        "cancel-method",
        r"async def cancel",
        prelude=IMPORTS,
        epilogue=CANCEL_EPILOGUE,
        expected={
            "run": fragment(done({"received": {"n": 1}})),
            "cancel": [
                {
                    "status": "cancelled",
                    "message": "Task cancelled by user",
                    "partial_result": None,
                },
                {
                    "status": "cancelled",
                    "message": "Task cancelled by user",
                    "partial_result": {"rows": 2},
                },
            ],
            "flag": True,
        },
    ),
    Harness(
        "accessing-task-context",
        r"Task context is available through TaskManager",
        prelude=IMPORTS,
        epilogue=run_fragment("{}"),
        expected=fragment(done({"status": "completed"})),
    ),
    Harness(
        "data-processing-task",
        r"class DataProcessingTask\(ExecutableTask\)",
        prelude=IMPORTS,
        epilogue="\n"
        + RUN.format(
            "DataProcessingTask",
            '{"data": [1, 2, 3, 4]}, {"data": [1, 2, 3, 4], "operation": "average"}, '
            '{"data": [], "operation": "average"}, {"data": [1], "operation": "median"}',
        ),
        expected=fragment(
            done({"status": "completed", "result": 10}),
            done({"status": "completed", "result": 2.5}),
            done({"status": "completed", "result": 0}),
            failed("Unknown operation: median", "ValueError"),
            ident="data_processing_task",
            name="DataProcessingTask",
        ),
    ),
    Harness(
        "file-read-task",
        r"class FileReadTask\(ExecutableTask\)",
        prelude=IMPORTS,
        epilogue="\n"
        + RUN.format("FileReadTask", '{"file_path": "notes.txt"}, {"file_path": "missing.txt"}'),
        files=(("notes.txt", "first line\nsecond line\n"),),
        expected=fragment(
            done({"status": "completed", "content": "first line\nsecond line\n"}),
            failed("[Errno 2] No such file or directory: 'missing.txt'", "FileNotFoundError"),
            ident="file_read_task",
            name="FileReadTask",
        ),
    ),
    Harness(
        "database-query-task",
        r"class DatabaseQueryTask\(ExecutableTask\)",
        prelude=IMPORTS,
        epilogue=DATABASE_EPILOGUE,
        expected=fragment(
            done({"status": "completed", "rows": [{"name": "ada"}, {"name": "grace"}]}),
            failed("no such table: nope", "OperationalError"),
            ident="database_query_task",
            name="DatabaseQueryTask",
        ),
    ),
    Harness(
        "unit-testing",
        r"from my_tasks import MyCustomTask",
        runner="pytest",
        modules=("my_tasks",),
        expected=["PASSED test_block.py::test_my_custom_task"],
    ),
    Harness(
        "integration-testing",
        r"async def test_task_integration\(\)",
        epilogue=INTEGRATION_EPILOGUE,
        modules=("my_module",),
        expected=[MY_CUSTOM_TASK],
    ),
    Harness(
        "keep-tasks-focused",
        r"class FetchUserDataTask\(ExecutableTask\)",
        runner="invalid",
        expected="IndentationError: expected an indented block after class definition on line 2",
    ),
    Harness(
        "validate-inputs",
        r'raise TypeError\("URL must be a string"\)',
        prelude=IMPORTS,
        epilogue=run_fragment("{}", '{"url": 42}', '{"url": "https://example.test"}'),
        expected=fragment(
            failed("URL is required", "ValueError"),
            failed("URL must be a string", "TypeError"),
            failed("execute() must return a dict, not NoneType", "ResultError"),
        ),
    ),
    Harness(
        "handle-errors-gracefully",
        r"except SpecificError as e",
        prelude=OPERATION,
        epilogue=run_fragment('{"numbers": [4]}', '{"numbers": []}'),
        expected=fragment(
            done({"status": "completed", "result": 4}),
            failed(
                "Operation failed: nothing to add",
                "TaskFailed",
                {
                    "status": "failed",
                    "error": "Operation failed: nothing to add",
                    "error_code": "SPECIFIC_ERROR",
                },
            ),
        ),
    ),
    Harness(
        "use-async-properly",
        r"# Bad: Blocking I/O",
        prelude=ASYNC_IO_PRELUDE,
        epilogue=ASYNC_IO_EPILOGUE,
        api_server=True,
        expected={"good": [done({"status": "completed", "data": JSON_BODY})], "bad": [BLOCKING_IO]},
    ),
    Harness(
        "document-your-tasks",
        r"It supports various processing modes",
        prelude=IMPORTS,
        epilogue=DOCUMENT_EPILOGUE,
        expected={
            "refused": "MyCustomTask cannot be registered: it does not implement execute",
            "run": fragment(
                done({"received": {"n": 1}}),
                ident="my_custom_task",
                name="MyCustomTask",
                description="Processes input data using configured processing mode",
            ),
        },
    ),
)


def matching(block: str) -> list[Harness]:
    return [harness for harness in HARNESSES if re.search(harness.marker, block)]


def cases() -> list[Any]:
    params = []
    for number, block in enumerate(guide_blocks(), start=1):
        found = matching(block)
        slug = found[0].slug if len(found) == 1 else "no-harness"
        params.append(pytest.param(number, block, found, id=f"block-{number:02d}-{slug}"))
    return params


# -- helper modules the blocks import, made of the guide's own MyCustomTask ----------------------


def guide_my_custom_task() -> str:
    (block,) = [block for block in guide_blocks() if "Your custom task implementation" in block]
    return block


def with_decorator(source: str) -> str:
    """MyCustomTask registered with ``@executor_register()``, as the guide recommends."""
    replacements = (
        (
            "from taskflow import ExecutableTask\n",
            "from taskflow import ExecutableTask, executor_register\n",
        ),
        ("\nclass MyCustomTask(", "\n@executor_register()\nclass MyCustomTask("),
    )
    for old, new in replacements:
        assert source.count(old) == 1, f"the guide's MyCustomTask no longer contains {old!r}"
        source = source.replace(old, new)
    return source


MODULES = {"my_tasks": lambda source: source, "my_module": with_decorator}


# -- the real HTTP API the APICallTask calls ------------------------------------------------------


async def _json(request: web.Request) -> web.Response:
    return web.json_response(JSON_BODY)


async def _echo(request: web.Request) -> web.Response:
    body = {
        "method": request.method,
        "json": await request.json(),
        "x_guide": request.headers["X-Guide"],
    }
    return web.json_response(body, status=201)


async def _text(request: web.Request) -> web.Response:
    return web.Response(text="plain text")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.json_response({"late": True})


@contextlib.asynccontextmanager
async def api_server() -> AsyncIterator[str]:
    """An aiohttp server on a random port of 127.0.0.1; yields its base URL."""
    app = web.Application()
    routes = {"/json": _json, "/text": _text, "/slow": _slow}
    app.add_routes([web.get(path, handler) for path, handler in routes.items()])
    app.add_routes([web.post("/echo", _echo)])
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


# -- running a block ------------------------------------------------------------------------------


def prepare(workdir: Path, block: str, harness: Harness) -> list[str]:
    """Write the script and its helper files; return the command that runs it."""
    workdir.mkdir()
    for module in harness.modules:
        (workdir / f"{module}.py").write_text(MODULES[module](guide_my_custom_task()))
    for name, content in harness.files:
        (workdir / name).write_text(content)
    if harness.runner == "pytest":
        (workdir / "test_block.py").write_text(block)
        return ["-m", "pytest", *PYTEST_OPTIONS, "test_block.py"]
    script = workdir / "block.py"
    script.write_text(harness.prelude + block + harness.epilogue)
    return ["-m", "guide_harness", str(script)] if harness.runner == "await" else [str(script)]


def environment(home: Path, workdir: Path, api_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKFLOW_", "PYTHON"))}
    env.update(TASKFLOW_HOME=str(home), PYTHONPATH=os.pathsep.join([str(workdir), str(HERE)]))
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONWARNINGS="error")
    if api_url is not None:
        env["GUIDE_API_URL"] = api_url
    return env


async def execute(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def read_report(harness: Harness, code: int, stdout: str, stderr: str) -> Any:
    """What the run produced, in the shape of ``harness.expected``."""
    output = f"exit code {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    if harness.runner == "invalid":
        assert code == 1, output
        return stderr.strip().splitlines()[-1]
    assert code == 0, output
    if harness.runner == "pytest":
        return re.findall(r"^PASSED \S+|^(?:FAILED|ERROR) \S+", stdout, re.MULTILINE)
    reports = [line for line in stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    assert len(reports) == 1, f"expected one {REPORT_PREFIX!r} line\n{output}"
    return json.loads(reports[0].removeprefix(REPORT_PREFIX))


def test_every_harness_matches_exactly_one_block() -> None:
    blocks = guide_blocks()
    for harness in HARNESSES:
        hits = [n for n, block in enumerate(blocks, start=1) if re.search(harness.marker, block)]
        assert len(hits) == 1, f"harness {harness.slug!r} matches blocks {hits}, not exactly one"


@pytest.mark.parametrize(("number", "block", "found"), cases())
async def test_guide_block_runs(
    number: int, block: str, found: list[Harness], tmp_path: Path
) -> None:
    first_line = block.strip().splitlines()[0]
    if len(found) != 1:
        pytest.fail(
            f"guide block {number} ({first_line!r}) has {len(found)} harnesses "
            f"({[h.slug for h in found]}): add exactly one to HARNESSES in {Path(__file__).name}"
        )
    (harness,) = found
    workdir = tmp_path / "work"
    args = prepare(workdir, block, harness)
    server = api_server() if harness.api_server else contextlib.nullcontext(None)
    (tmp_path / "home").mkdir()
    async with server as api_url:
        env = environment(tmp_path / "home", workdir, api_url)
        code, stdout, stderr = await execute(args, workdir, env)
    assert read_report(harness, code, stdout, stderr) == harness.expected
    if harness.runner == "invalid":
        pytest.xfail(
            f"guide block {number} is pseudo-code, not runnable Python: {harness.expected}"
        )
