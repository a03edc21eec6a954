from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskflow import BaseTask, ExecutableTask, ExecutorRegistry, RegistryError, executor_register


class Echo(BaseTask):
    id = "test.echo"
    input_schema = {"type": "object", "properties": {"v": {"type": "integer", "default": 1}}}

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return inputs


class OtherEcho(BaseTask):
    id = "test.echo"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {}


class Props(ExecutableTask):
    """Uses the property style of the seed guide."""

    @property
    def id(self) -> str:
        return "test.props"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {}


@pytest.fixture
def registry() -> ExecutorRegistry:
    return ExecutorRegistry(discover_plugins=False)


def test_decorator_registers_at_definition(registry: ExecutorRegistry) -> None:
    @executor_register(registry=registry)
    class Greeter(BaseTask):
        """Says hello."""

        id = "test.greeter"

        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            return {}

    info = registry.get("test.greeter")
    assert info is not None and info.cls is Greeter
    assert (info.name, info.description) == ("Greeter", "Says hello.")
    assert info.input_schema == {"type": "object"}


def test_defaults_for_property_style(registry: ExecutorRegistry) -> None:
    info = registry.register(Props)
    assert (info.id, info.name, info.description) == (
        "test.props",
        "Props",
        "Uses the property style of the seed guide.",
    )


def test_duplicate_id_names_both_classes(registry: ExecutorRegistry) -> None:
    registry.register(Echo)
    with pytest.raises(RegistryError) as caught:
        registry.register(OtherEcho)
    message = str(caught.value)
    assert (
        "test_registry.Echo" in message
        and "test_registry.OtherEcho" in message
        and "override=True" in message
    )
    assert registry.register(OtherEcho, override=True).cls is OtherEcho


def test_instances_are_shared_and_classes_are_fresh(registry: ExecutorRegistry) -> None:
    shared = Echo()
    assert registry.register(shared, override=True).create() is shared
    registry.register(Props)
    info = registry.get("test.props")
    assert info is not None and info.create() is not info.create()


@pytest.mark.parametrize("bad_id", ["", "1abc", "has space", "semi;colon"])
def test_malformed_ids_are_refused(registry: ExecutorRegistry, bad_id: str) -> None:
    cls = type("Bad", (Echo,), {"id": bad_id})
    with pytest.raises(RegistryError, match="must start with a letter"):
        registry.register(cls)


def test_invalid_schema_is_refused(registry: ExecutorRegistry) -> None:
    cls = type("BadSchema", (Echo,), {"id": "test.bad", "input_schema": {"type": "objekt"}})
    with pytest.raises(RegistryError, match="invalid input schema"):
        registry.register(cls)


def test_abstract_property_style_class_is_refused(registry: ExecutorRegistry) -> None:
    class NoExecute(ExecutableTask):
        pass

    with pytest.raises(RegistryError, match="does not implement execute"):
        registry.register(NoExecute)


def test_base_task_without_execute_registers_but_cannot_run(registry: ExecutorRegistry) -> None:
    class Unfinished(BaseTask):
        id = "test.unfinished"

    info = registry.register(Unfinished)
    with pytest.raises(TypeError, match="does not implement execute"):
        info.create()


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    """Two installed-looking distributions: one good plugin, one that fails to import."""
    (tmp_path / "good_plugin.py").write_text(
        textwrap.dedent("""
        from taskflow import BaseTask
        class Shout(BaseTask):
            id = "plugin.shout"
            async def execute(self, inputs):
                return {"text": inputs.get("text", "").upper()}
    """)
    )
    (tmp_path / "bad_plugin.py").write_text("raise RuntimeError('cannot start')\n")
    for name, target in (("good_plugin", "good_plugin:Shout"), ("bad_plugin", "bad_plugin:Thing")):
        info = tmp_path / f"{name.replace('_', '-')}-1.2.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.2\n"
        )
        (info / "entry_points.txt").write_text(f"[taskflow.executors]\n{name} = {target}\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for module in ("good_plugin", "bad_plugin"):
        sys.modules.pop(module, None)


def test_plugins_load_by_entry_point_and_a_broken_one_is_reported(plugin_path: Path) -> None:
    registry = ExecutorRegistry()
    info = registry.get("plugin.shout")
    assert info is not None and info.source == "package good-plugin 1.2"
    assert "bad-plugin 1.2" in registry.plugin_errors
    assert "cannot start" in registry.plugin_errors["bad-plugin 1.2"]
    assert "plugin.shout" in registry.ids()


def test_a_subclass_describes_itself_not_its_parent(registry: ExecutorRegistry) -> None:
    class Parent(BaseTask):
        """Shared plumbing of a family of executors."""

        id = "test.parent"

        async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
            return {}

    class Child(Parent):
        """Does the child's one thing."""

        id = "test.child"

    class Quiet(Parent):
        id = "test.quiet"

    assert (Child.name, Child.description) == ("Child", "Does the child's one thing.")
    assert (Quiet.name, Quiet.description) == ("Quiet", "Shared plumbing of a family of executors.")


def test_two_packages_claiming_one_id_are_reported_naming_both(tmp_path: Path) -> None:
    for package, module in (("first-pkg", "first_pkg"), ("second-pkg", "second_pkg")):
        (tmp_path / f"{module}.py").write_text(
            textwrap.dedent(f'''
            from taskflow import BaseTask
            class Fetch(BaseTask):
                id = "dup.fetch"
                async def execute(self, inputs):
                    return {{"from": "{module}"}}
        ''')
        )
        info = tmp_path / f"{package}-2.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 2.0\n")
        (info / "entry_points.txt").write_text(f"[taskflow.executors]\nfetch = {module}:Fetch\n")
    sys.path.insert(0, str(tmp_path))
    try:
        registry = ExecutorRegistry()
        winner = registry.get("dup.fetch")
        assert winner is not None
        [(loser, error)] = registry.plugin_errors.items()
        assert {winner.source, f"package {loser}"} == {
            "package first-pkg 2.0",
            "package second-pkg 2.0",
        }
        assert "first_pkg.Fetch" in error and "second_pkg.Fetch" in error and "dup.fetch" in error
    finally:
        sys.path.remove(str(tmp_path))
        for module in ("first_pkg", "second_pkg"):
            sys.modules.pop(module, None)
