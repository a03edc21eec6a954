"""`new_executor_package` (``taskflow executor new``): the package it writes installs, passes
its own tests, and registers through its entry point — checked in a fresh virtualenv.

The virtualenv is created without pip and sees this environment's packages (taskflow, pytest,
pip) through a ``.pth`` file: ``--system-site-packages`` would give it the base interpreter's
packages, not this virtualenv's. The scaffold is installed with pip's build isolation, so its
build backend (setuptools) comes from the package index, as for a user.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from taskflow.scaffold import new_executor_package


def make_virtualenv(where: Path) -> Path:
    """A virtualenv that sees this one's packages; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (Path(own_site) / "_taskflow_parent_env.pth").write_text("\n".join(lines) + "\n")
    return python


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    result = subprocess.run(
        [str(python), *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_a_scaffolded_package_installs_passes_its_tests_and_registers(tmp_path: Path) -> None:
    python = make_virtualenv(tmp_path / "venv")
    created = run(
        python,
        "-m",
        "taskflow.cli",
        "executor",
        "new",
        "taskflow-weather",
        "--dir",
        "work",
        cwd=tmp_path,
    )
    package = tmp_path / "work" / "taskflow-weather"
    assert created.stdout.splitlines()[0] == "created work/taskflow-weather"

    listed_before = json.loads(
        run(python, "-m", "taskflow.cli", "executors", "list", "--json", cwd=tmp_path).stdout
    )
    assert "weather.greet" not in {e["id"] for e in listed_before}
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", str(package), cwd=tmp_path)
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert "4 passed" in tests.stdout
    listed = json.loads(
        run(python, "-m", "taskflow.cli", "executors", "list", "--json", cwd=tmp_path).stdout
    )
    weather = {e["id"]: e for e in listed}[
        "weather.greet"
    ]  # no import in user code: the entry point
    assert (weather["source"], weather["class"]) == (
        "package taskflow-weather 0.1.0",
        "taskflow_weather.executor.Greet",
    )


def test_the_package_has_everything_a_third_party_package_needs(tmp_path: Path) -> None:
    package = new_executor_package("acme-tools", tmp_path)
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/acme_tools/__init__.py",
        "src/acme_tools/executor.py",
        "src/acme_tools/py.typed",
        "tests/conftest.py",
        "tests/test_acme_tools.py",
    ]
    pyproject = (package / "pyproject.toml").read_text()
    assert (
        '[project.entry-points."taskflow.executors"]\n"acme_tools.greet" = "acme_tools:Greet"'
        in (pyproject)
    )
    assert 'id = "acme_tools.greet"' in (package / "src/acme_tools/executor.py").read_text()
    assert 'pytest_plugins = ["taskflow.testing"]' in (package / "tests/conftest.py").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Weather", "use lowercase letters, digits and single hyphens"),
        ("my tools", "use lowercase letters, digits and single hyphens"),
        ("-weather", "use lowercase letters, digits and single hyphens"),
        ("weather--x", "use lowercase letters, digits and single hyphens"),
        ("9lives", "use lowercase letters, digits and single hyphens"),
        ("", "use lowercase letters, digits and single hyphens"),
        ("../escape", "use lowercase letters, digits and single hyphens"),
        ("json", "would shadow taskflow, a Python keyword or a standard library module"),
        ("class", "would shadow taskflow, a Python keyword or a standard library module"),
        ("taskflow", "would shadow taskflow"),
    ],
)
def test_bad_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"invalid executor package name {name!r}: .*{message}"):
        new_executor_package(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "acme-tools").mkdir()
    (tmp_path / "acme-tools" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="acme-tools already exists and is not empty"):
        new_executor_package("acme-tools", tmp_path)
    assert [p.name for p in (tmp_path / "acme-tools").iterdir()] == ["mine.txt"]
