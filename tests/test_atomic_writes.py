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


# ----------------------------------------------------------------------------- SynthOcc sets
TINY_SET = dict(resolution=32, workers=1, progress=False)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_set_files_are_group_readable(tmp_path: Path, umask_022) -> None:
    from handoccnet_lite.data.synthocc import generate_synthocc_set

    root = generate_synthocc_set(tmp_path / "set", {"train": 2, "test": 1}, **TINY_SET)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {p.parent.name for p in files} == {"train", "test"}
    assert all(_mode(p) == 0o644 for p in files), {p.name: oct(_mode(p)) for p in files}
    assert all(_mode(d) == 0o755 for d in (root, root / "train", root / "test"))


def test_a_failure_half_way_keeps_the_old_set_complete(tmp_path: Path, monkeypatch) -> None:
    """Disk full while writing the new test split: the old set stays, unmixed, and no temp
    folder is left beside it."""
    import errno

    from handoccnet_lite.data import synthocc as so

    root = so.generate_synthocc_set(tmp_path / "set", {"train": 2, "test": 1}, **TINY_SET)
    before = _snapshot(root)
    real = so.generate_synthocc

    def disk_fills_on_test(out_dir, n, split="train", **kw):
        if split == "test":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out_dir))
        return real(out_dir, n, split=split, **kw)

    monkeypatch.setattr(so, "generate_synthocc", disk_fills_on_test)
    with pytest.raises(OSError, match="No space left"):
        so.generate_synthocc_set(root, {"train": 3, "test": 1}, seed=5, **TINY_SET)
    assert _snapshot(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
    monkeypatch.setattr(so, "generate_synthocc", real)
    so.generate_synthocc_set(root, {"train": 3, "test": 1}, seed=5, **TINY_SET)
    manifest = (root / "train" / "manifest.json").read_text()
    assert '"seed": 5' in manifest and _snapshot(root) != before


def test_a_folder_holding_other_things_is_not_replaced(tmp_path: Path) -> None:
    from handoccnet_lite.data.synthocc import generate_synthocc_set

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds more than a SynthOcc set .notes.txt"):
        generate_synthocc_set(tmp_path, {"train": 1}, **TINY_SET)
    assert (tmp_path / "notes.txt").read_text() == "mine"
