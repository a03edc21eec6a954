"""Scaffolding: `new_executor_package` writes an executor package that works as written.

The package has what a third-party executor package needs: a ``pyproject.toml`` declaring the
executor in the ``taskflow.executors`` entry-point group, a ``src/`` package with an executor
class that declares its input and output schemas (with examples), a README, and tests that use
the kit (`taskflow.testing`). Installed, it registers itself and passes its own tests; then its
author replaces the example executor with theirs. ``taskflow executors new NAME`` calls it.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
import string
import sys
from pathlib import Path

from taskflow import __version__

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def normalise_package_name(name: str) -> str:
    """A distribution name as packaging normalises it: lowercase, runs of ``-``, ``_`` and
    ``.`` (and spaces) as one hyphen (``acme_widget`` → ``acme-widget``)."""
    return re.sub(r"[-_.\s]+", "-", name.strip()).lower().strip("-")


PREFIX = "taskflow-"


@dataclasses.dataclass(frozen=True, slots=True)
class PackageNames:
    """The names a package is known by, derived from its distribution name.

    Attributes:
        dist: The distribution name (``taskflow-weather``), also the folder's name.
        module: The import name (``taskflow_weather``).
        executor_id: The example executor's id (``weather.greet``).
    """

    dist: str
    module: str
    executor_id: str

    @classmethod
    def from_name(cls, name: str) -> PackageNames:
        """Check ``name`` and derive the others from it.

        Raises:
            ValueError: ``name`` is not a usable package name; the message says why.
        """
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(
                f"invalid executor package name {name!r}: use lowercase letters, digits and "
                "single hyphens, starting with a letter (e.g. 'taskflow-weather')"
            )
        module = name.replace("-", "_")
        if name == "taskflow" or keyword.iskeyword(module) or module in sys.stdlib_module_names:
            raise ValueError(
                f"invalid executor package name {name!r}: its module {module!r} would shadow "
                "taskflow, a Python keyword or a standard library module"
            )
        stem = name.removeprefix(PREFIX).replace("-", "_")
        return cls(dist=name, module=module, executor_id=f"{stem}.greet")


def new_executor_package(name: str, directory: Path) -> Path:
    """Write a new executor package called ``name`` into ``directory / name``.

    Args:
        name: The distribution name, e.g. ``taskflow-weather`` (module ``taskflow_weather``,
            example executor ``weather.greet``).
        directory: Where to create the package's folder (created if missing).

    Returns:
        The package's folder.

    Raises:
        ValueError: ``name`` is not a valid package name.
        FileExistsError: ``directory / name`` exists and is not empty.

    Example:
        >>> root = new_executor_package("taskflow-weather", Path("."))
        >>> # pip install -e ./taskflow-weather && pytest ./taskflow-weather
    """
    names = PackageNames.from_name(name)
    target = Path(directory) / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} already exists and is not empty")
    for relative, text in package_files(names).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def package_files(names: PackageNames) -> dict[str, str]:
    """The files of the package, by path relative to its folder."""
    values = {
        **dataclasses.asdict(names),
        "taskflow_version": __version__,
    }
    return {
        path.replace("MODULE", names.module): string.Template(template).substitute(values)
        for path, template in _TEMPLATES.items()
    }


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "taskflow executors: $executor_id"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["taskflow>=$taskflow_version"]

[project.optional-dependencies]
test = ["pytest>=8.0", "pytest-asyncio>=0.24"]

# How taskflow finds the executor: one entry point per executor class.
[project.entry-points."taskflow.executors"]
"$executor_id" = "$module:Greet"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
$module = ["py.typed"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
addopts = "--strict-markers"
filterwarnings = ["error"]
"""

_README = """\
# $dist

A [taskflow](https://pypi.org/project/taskflow/) executor package. It provides:

| executor id | what it does |
| --- | --- |
| `$executor_id` | greets someone (an example: replace it with your executor) |

## Install and test

```sh
pip install -e '.[test]'
pytest
```

Once installed, taskflow finds the executor through the `taskflow.executors` entry point in
`pyproject.toml`: `taskflow executors list` shows it, and tasks can name it:

```yaml
key: hello
executor: $executor_id
inputs: {who: Ada, language: fr}
```

## Writing your executor

Edit `src/$module/executor.py`: describe the inputs and the result in `input_schema` and
`output_schema` (JSON Schema, with a `description` for each property, defaults, and
`examples`), and do the work in `async def execute(self, inputs)`. The tests in `tests/` use
taskflow's kit: `check_executor` checks the contract (schemas, examples, results, `cancel()`),
`run_executor` runs one task as the engine would. Add an executor by adding its class and an
entry point for it.
"""

_INIT = '''\
"""$dist: taskflow executors ($executor_id)."""

from __future__ import annotations

from $module.executor import Greet

__all__ = ["Greet"]
'''

_EXECUTOR = '''\
"""The ``$executor_id`` executor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow import BaseTask

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}


class Greet(BaseTask):
    """Greets someone in one of a few languages (an example to replace with your own)."""

    id = "$executor_id"
    name = "Greet"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "$$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "who": {"type": "string", "minLength": 1, "description": "Whom to greet."},
            "language": {
                "enum": sorted(GREETINGS),
                "default": "en",
                "description": "The language of the greeting.",
            },
        },
        "required": ["who"],
        "additionalProperties": False,
        "examples": [{"who": "Ada"}, {"who": "Grace", "language": "fr"}],
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {"greeting": {"type": "string", "description": "The greeting."}},
        "required": ["greeting"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Build the greeting (inputs are validated, defaults filled in, before this runs)."""
        greeting = f"{GREETINGS[inputs['language']]}, {inputs['who']}!"
        self.context.log(greeting)
        return {"greeting": greeting}
'''

_CONFTEST = '''\
"""taskflow's kit for executor authors: the task_manager fixture and its helpers."""

pytest_plugins = ["taskflow.testing"]
'''

_TESTS = '''\
"""Tests of $executor_id, with taskflow's kit (taskflow.testing)."""

from __future__ import annotations

import pytest
from $module import Greet

from taskflow import DefinitionError, TaskManager, TaskStatus, get_registry
from taskflow.testing import check_executor, run_executor


async def test_contract() -> None:
    await check_executor(Greet)


async def test_greets_in_the_language_asked() -> None:
    task = await run_executor(Greet, {"who": "Ada", "language": "fr"})
    assert task.status is TaskStatus.COMPLETED
    assert task.result == {"greeting": "Bonjour, Ada!"}


async def test_refuses_an_unknown_language() -> None:
    with pytest.raises(DefinitionError, match=r"inputs\\.language"):
        await run_executor(Greet, {"who": "Ada", "language": "xx"})


async def test_the_installed_package_registers_it(task_manager: TaskManager) -> None:
    info = get_registry().get("$executor_id")
    assert info is not None
    assert info.source.startswith("package $dist ")
    tree = await task_manager.run_tree({"name": "$executor_id", "inputs": {"who": "Grace"}})
    assert tree.task.result == {"greeting": "Hello, Grace!"}
'''

_TEMPLATES = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    "src/MODULE/__init__.py": _INIT,
    "src/MODULE/executor.py": _EXECUTOR,
    "src/MODULE/py.typed": "",
    "tests/conftest.py": _CONFTEST,
    "tests/test_MODULE.py": _TESTS,
}
