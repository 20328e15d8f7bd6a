"""Written files are readable by the group (shared course folders) under the usual umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from handoccnet_lite.utils import atomic_write_bytes, new_file_mode, write_bytes_durably


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_gives_the_umask_mode_not_0600(tmp_path: Path, umask_022) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"abc")
    write_bytes_durably(tmp_path / "b.bin", b"abc")
    assert _mode(tmp_path / "a.bin") == 0o644 and _mode(tmp_path / "b.bin") == 0o644
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_new_file_mode_respects_a_private_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        assert new_file_mode() == 0o600
        atomic_write_bytes(tmp_path / "a.bin", b"abc")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.bin") == 0o600
