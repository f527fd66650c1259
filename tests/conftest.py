"""Fixtures shared by every tier."""

import os

import pytest


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    """A private dynvol state directory for this test (for the API and for CLI subprocesses)."""
    d = tmp_path / "state"
    monkeypatch.setenv("DYNVOL_STATE_DIR", str(d))
    return d


@pytest.fixture
def hostdir(tmp_path):
    """A host directory to attach, holding hello.txt ("hello from the host")."""
    d = tmp_path / "src"
    d.mkdir()
    (d / "hello.txt").write_text("hello from the host\n")
    return d


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if os.sep + "integration" + os.sep in path:
            item.add_marker(pytest.mark.integration)
        elif os.sep + "kernel" + os.sep in path:
            item.add_marker(pytest.mark.kernel)
