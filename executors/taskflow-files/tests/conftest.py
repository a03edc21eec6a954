"""The kit's fixtures, and a sandbox root (with a directory outside it to attack)."""

from __future__ import annotations

from pathlib import Path

import pytest
from taskflow_files import ROOT_VARIABLE, beneath

pytest_plugins = ["taskflow.testing"]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty sandbox root, set as $TASKFLOW_FILES_ROOT."""
    root = tmp_path / "sandbox"
    root.mkdir()
    monkeypatch.setenv(ROOT_VARIABLE, str(root))
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the sandbox, holding secret.txt, that no task may touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text("secret")
    return directory


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way of opening paths beneath the root: openat2, and the O_NOFOLLOW walk."""
    if request.param == "walk":
        monkeypatch.setattr(beneath, "OPENAT2", None)
    elif beneath.OPENAT2 is None:
        pytest.skip("openat2 is not available here (the walk is used)")
    return str(request.param)
